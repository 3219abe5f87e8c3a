"""The in-memory index of the mailbox: arrival order, read state, tags, ref groups, search.

Everything here is plain data on the event loop thread; the store decides when it changes and
what events that makes. Memory is bounded by the retention limit: raw bytes (without --db),
cached search text and tombstones all go with the message or are capped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from itertools import islice

from devmail.message import Stored, Summary, search_fields
from devmail.search import Query

# IDs of deleted messages remembered so that `after=ID` still works once that message is gone;
# at least this many, and as many as the retention limit keeps messages.
MIN_TOMBSTONES = 10_000

GroupKey = tuple[str, str]


class Index:
    def __init__(self, max_messages: int) -> None:
        self.max_messages = max_messages
        self._entries: OrderedDict[str, Stored] = OrderedDict()
        self._read: set[str] = set()
        self._tags: dict[str, tuple[str, ...]] = {}
        self.raw: dict[str, bytes] = {}
        self._search: dict[str, dict[str, str]] = {}
        self._groups: dict[GroupKey, set[str]] = {}
        # Each group's newest message, kept as members come and go: with it, whether a message
        # is superseded is one comparison, and a group's state one pass over its members.
        self._heads: dict[GroupKey, Stored] = {}
        self._tombstones: OrderedDict[str, int] = OrderedDict()
        self._max_tombstones = max(MIN_TOMBSTONES, max_messages)

    # --- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._entries

    def get(self, message_id: str) -> Stored | None:
        return self._entries.get(message_id)

    def ids(self) -> list[str]:
        return list(self._entries)

    @property
    def unread(self) -> int:
        return len(self._entries) - len(self._read)

    def is_read(self, message_id: str) -> bool:
        return message_id in self._read

    def tags_of(self, message_id: str) -> tuple[str, ...]:
        return self._tags.get(message_id, ())

    def tag_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for tags in self._tags.values():
            for tag in tags:
                counts[tag] = counts.get(tag, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: kv[0].casefold()))

    def newest_first(self) -> Iterator[Stored]:
        return reversed(self._entries.values())

    def summary(self, stored: Stored) -> Summary:
        return Summary(
            stored,
            stored.id in self._read,
            self.superseded_by(stored),
            self._tags.get(stored.id, ()),
        )

    def matches(self, query: Query, stored: Stored) -> bool:
        """Whether `query` finds the message (read from the index: no Summary is built)."""
        message_id = stored.id
        flags = frozenset(
            (
                "read" if message_id in self._read else "unread",
                "current" if self.superseded_by(stored) is None else "superseded",
            )
        )
        fields = self._search.get(message_id)
        if fields is None:
            fields = self._search[message_id] = search_fields(stored)
        tags = frozenset(tag.casefold() for tag in self._tags.get(message_id, ()))
        return query.matches(fields, flags, tags)

    def seq_of(self, message_id: str) -> int | None:
        """Also answers for deleted messages, so `after=` survives a clean-up between tests."""
        stored = self._entries.get(message_id)
        return stored.seq if stored is not None else self._tombstones.get(message_id)

    def overflow(self, incoming: int) -> list[str]:
        """The oldest IDs that must go for `incoming` new messages to fit the limit."""
        if not self.max_messages:
            return []
        excess = len(self._entries) + incoming - self.max_messages
        return list(islice(self._entries, max(0, excess)))

    # --- changing ---------------------------------------------------------------------------

    def insert(self, stored: Stored, read: bool = False, tags: tuple[str, ...] = ()) -> None:
        self._entries[stored.id] = stored
        if read:
            self._read.add(stored.id)
        if tags:
            self._tags[stored.id] = tags
        key = stored.group_key
        if key is not None:
            self._groups.setdefault(key, set()).add(stored.id)
            head = self._heads.get(key)
            if head is None or _rank(stored) > _rank(head):
                self._heads[key] = stored

    def remove(self, message_id: str) -> Stored:
        stored = self._entries.pop(message_id)
        self._read.discard(message_id)
        self._tags.pop(message_id, None)
        self.raw.pop(message_id, None)
        self._search.pop(message_id, None)
        key = stored.group_key
        if key is not None:
            members = self._groups[key]
            members.discard(message_id)
            if not members:
                del self._groups[key]
                del self._heads[key]
            elif self._heads[key].id == message_id:
                self._heads[key] = max((self._entries[i] for i in members), key=_rank)
        self._tombstones[message_id] = stored.seq
        while len(self._tombstones) > self._max_tombstones:
            self._tombstones.popitem(last=False)
        return stored

    def set_read(self, message_id: str, read: bool) -> bool:
        """True when that changed anything."""
        if (message_id in self._read) == read:
            return False
        if read:
            self._read.add(message_id)
        else:
            self._read.discard(message_id)
        return True

    def set_tags(self, message_id: str, tags: tuple[str, ...]) -> bool:
        if self._tags.get(message_id, ()) == tags:
            return False
        if tags:
            self._tags[message_id] = tags
        else:
            self._tags.pop(message_id, None)
        return True

    # --- supersession -----------------------------------------------------------------------

    def superseded_by(self, stored: Stored) -> str | None:
        """The group's newest message (highest RefSeq, then arrival) if its RefSeq is higher.

        "Later" is judged by RefSeq, not by arrival, so a resend delivered before the original
        still marks the original superseded, which is exactly the out-of-order case to catch.
        """
        key = stored.group_key
        head = self._heads.get(key) if key is not None else None
        if head is not None and (head.parsed.ref_seq or 0) > (stored.parsed.ref_seq or 0):
            return head.id
        return None

    def group_state(self, key: GroupKey | None) -> dict[str, str | None]:
        if key is None or key not in self._groups:
            return {}
        return {i: self.superseded_by(self._entries[i]) for i in self._groups[key]}

    def changed_in_group(
        self, key: GroupKey | None, before: dict[str, str | None], skip: str | None = None
    ) -> list[Stored]:
        """Members whose supersession differs from `before`, in arrival order."""
        after = self.group_state(key)
        return [
            self._entries[i]
            for i, superseded_by in sorted(after.items(), key=lambda kv: self._entries[kv[0]].seq)
            if i != skip and i in before and before[i] != superseded_by
        ]


def _rank(stored: Stored) -> tuple[int, int]:
    """Newest in a group: highest RefSeq, then latest arrival."""
    return (stored.parsed.ref_seq or 0, stored.seq)
