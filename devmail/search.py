"""Mailpit's search language, the subset test suites use to find "the mail to alice".

    to:alice@example.com  from:acctkit  subject:"your code"  message-id:abc@host
    is:read  is:unread  free text  "a quoted phrase"  -negated  -subject:"not this"

`tag:NAME` matches a message carrying that tag exactly (case-insensitively), as in Mailpit.
Extensions: `flow:`, `ref:` (the X-Acctkit-* headers) and `is:superseded` / `is:current`.
Every term must hold (AND); matching is a case-insensitive substring test. A `key:` that is not
one of the above is taken as free text, so pasting a URL into the search box still works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

FIELDS = frozenset({"to", "from", "subject", "message-id", "flow", "ref"})
FLAGS = frozenset({"read", "unread", "superseded", "current"})

_TOKEN = re.compile(r'\s*(-)?(?:([A-Za-z][A-Za-z-]*):)?(?:"([^"]*)(?:"|$)|(\S+))')


class QueryError(ValueError):
    """A query devmail cannot answer honestly (an unknown `is:` flag)."""


@dataclass(frozen=True)
class Term:
    field: str | None  # None: free text over every field and the bodies
    value: str  # casefolded
    negate: bool = False


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...] = ()

    def matches(
        self,
        fields: Mapping[str, str],
        flags: frozenset[str],
        tags: frozenset[str] = frozenset(),
    ) -> bool:
        """`fields` maps each field name and "text" (everything) to casefolded text."""
        for term in self.terms:
            if term.field == "is":
                hit = term.value in flags
            elif term.field == "tag":
                hit = term.value in tags
            else:
                hit = term.value in fields.get(term.field or "text", "")
            if hit == term.negate:
                return False
        return True


def parse_query(text: str) -> Query:
    terms: list[Term] = []
    for match in _TOKEN.finditer(text or ""):
        negate, key, quoted, bare = match.groups()
        value = quoted if quoted is not None else bare
        if value is None:
            continue
        key = key.lower() if key else None
        if key == "is":
            flag = value.casefold()
            if flag not in FLAGS:
                raise QueryError(f"unknown flag is:{value} (known: {', '.join(sorted(FLAGS))})")
            terms.append(Term("is", flag, bool(negate)))
        elif key == "tag" and value:
            terms.append(Term("tag", value.casefold(), bool(negate)))
        elif key in FIELDS:
            terms.append(Term(key, value.casefold(), bool(negate)))
        else:
            literal = f"{key}:{value}" if key else value
            if not literal:
                continue
            terms.append(Term(None, literal.casefold(), bool(negate)))
    return Query(tuple(terms))
