"""The index keeps nothing per message once the message is gone, whatever passes through it:
memory is bounded by the retention limit (plus a capped list of tombstones)."""

from __future__ import annotations

from datetime import UTC, datetime

from devmail.index import MIN_TOMBSTONES, Index
from devmail.message import Envelope, Stored
from devmail.parse import parse
from devmail.search import parse_query

from .conftest import code_mail


def test_what_the_index_holds_is_bounded_by_retention() -> None:
    parsed = parse(code_mail(ref=None, seq=None).as_bytes())
    index = Index(max_messages=100)
    query = parse_query("042917")
    for seq in range(1, MIN_TOMBSTONES + 1000 + 1):
        stored = Stored(
            id=f"id{seq}",
            seq=seq,
            created=datetime.now(UTC),
            size=1,
            envelope=Envelope("a@example.com", ("b@example.com",)),
            parsed=parsed,
        )
        for message_id in index.overflow(1):
            index.remove(message_id)
        index.insert(stored, tags=("t",))
        index.raw[stored.id] = b"x"
        assert index.matches(query, index.summary(stored))
        index.set_read(stored.id, True)
    assert len(index) == 100 and index.unread == 0
    assert len(index.raw) == len(index._search) == len(index._tags) == len(index._read) == 100
    assert len(index._tombstones) == MIN_TOMBSTONES
    assert index._groups == {}
    # The newest tombstones are the ones kept: `after=` works for recently deleted IDs.
    assert index.seq_of(f"id{MIN_TOMBSTONES + 1000 - 100}") == MIN_TOMBSTONES + 1000 - 100
    assert index.seq_of("id1") is None
