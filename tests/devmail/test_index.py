"""The index keeps nothing per message once the message is gone, whatever passes through it:
memory is bounded by the retention limit (plus a capped list of tombstones)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from devmail.index import MIN_TOMBSTONES, Index
from devmail.message import Envelope, Stored
from devmail.parse import ParsedMessage, parse
from devmail.search import parse_query

from .conftest import code_mail


def _stored(seq: int, parsed: ParsedMessage) -> Stored:
    envelope = Envelope("a@example.com", ("b@example.com",))
    return Stored(f"id{seq}", seq, datetime.now(UTC), 1, envelope, parsed)


def test_what_the_index_holds_is_bounded_by_retention() -> None:
    parsed = parse(code_mail(ref=None, seq=None).as_bytes())
    index = Index(max_messages=100)
    query = parse_query("042917")
    for seq in range(1, MIN_TOMBSTONES + 1000 + 1):
        stored = _stored(seq, parsed)
        for message_id in index.overflow(1):
            index.remove(message_id)
        index.insert(stored, tags=("t",))
        index.raw[stored.id] = b"x"
        assert index.matches(query, stored)
        index.set_read(stored.id, True)
    assert len(index) == 100 and index.unread == 0
    assert len(index.raw) == len(index._search) == len(index._tags) == len(index._read) == 100
    assert len(index._tombstones) == MIN_TOMBSTONES
    assert index._groups == {}
    # The newest tombstones are the ones kept: `after=` works for recently deleted IDs.
    assert index.seq_of(f"id{MIN_TOMBSTONES + 1000 - 100}") == MIN_TOMBSTONES + 1000 - 100
    assert index.seq_of("id1") is None


_PARSED = {
    (ref, seq): parse(code_mail(ref=ref, seq=seq).as_bytes())
    for ref in ("a", "b")
    for seq in (None, 1, 2, 3)
}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.sampled_from(sorted(_PARSED, key=str))),
            st.tuples(st.just("remove"), st.integers(0, 30)),
        ),
        max_size=40,
    )
)
def test_supersession_follows_the_groups_newest_member_as_members_come_and_go(
    operations: list[tuple[str, object]],
) -> None:
    """The index keeps each group's head as messages arrive and leave; every message's
    supersession must equal the rule worked out from scratch: superseded by the member with
    the highest RefSeq (then the latest arrival) when that RefSeq is higher than its own."""
    index = Index(max_messages=0)
    live: list[Stored] = []
    for seq, (action, arg) in enumerate(operations, start=1):
        if action == "add":
            assert isinstance(arg, tuple)
            stored = _stored(seq, _PARSED[arg])
            index.insert(stored)
            live.append(stored)
        elif live:
            assert isinstance(arg, int)
            index.remove(live.pop(arg % len(live)).id)
        for stored in live:
            group = [s for s in live if s.group_key is not None and s.group_key == stored.group_key]
            head = max(group, key=lambda s: (s.parsed.ref_seq or 0, s.seq), default=None)
            newer = head is not None and (head.parsed.ref_seq or 0) > (stored.parsed.ref_seq or 0)
            assert index.superseded_by(stored) == (head.id if newer and head else None)
    assert set(index._heads) == {s.group_key for s in live if s.group_key is not None}
