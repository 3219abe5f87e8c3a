"""The query language on its own (the API tests run it against stored mail)."""

from __future__ import annotations

import pytest

from devmail.search import QueryError, Term, parse_query


def test_terms_keys_phrases_and_negation() -> None:
    query = parse_query(
        'to:Alice@Example.com subject:"your code" -from:spam "two words" -x url:http://a'
    )
    assert query.terms == (
        Term("to", "alice@example.com"),
        Term("subject", "your code"),
        Term("from", "spam", negate=True),
        Term(None, "two words"),
        Term(None, "x", negate=True),
        Term(None, "url:http://a"),
    )


def test_matching_is_and_of_terms() -> None:
    fields = {"to": "alice <alice@example.com>", "subject": "your code", "text": "everything here"}
    assert parse_query("to:alice subject:code").matches(fields, frozenset({"unread"}))
    assert not parse_query("to:alice -subject:code").matches(fields, frozenset({"unread"}))
    assert parse_query("is:unread").matches(fields, frozenset({"unread"}))
    assert not parse_query("is:read").matches(fields, frozenset({"unread"}))
    assert parse_query("").matches(fields, frozenset())


def test_unknown_flag_is_an_error() -> None:
    with pytest.raises(QueryError):
        parse_query("is:starred")
