"""The mailbox: every caught message in arrival order, bounded, optionally kept in SQLite.

All state lives on the event loop thread (devmail.index); SQLite is only touched from one
dedicated thread (devmail.database, a single-worker executor), so the loop never blocks on
disk and the connection never crosses threads. Every change is published as events
(devmail.events) under one `asyncio.Condition`, which wakes both the long-polls waiting for
a matching message and the websocket subscribers: no one polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

from devmail.database import Database
from devmail.events import Event, EventLog, Subscription
from devmail.index import GroupKey, Index
from devmail.message import Envelope, Stored, Summary, new_id, utc_now
from devmail.parse import ParsedMessage, parse
from devmail.parsers import ParserPool
from devmail.search import Query

_T = TypeVar("_T")

# Parsing a large message takes long enough to stall other connections; small ones are
# cheaper to parse in place than to hand to a thread.
INLINE_PARSE_LIMIT = 256 * 1024


# Messages looked at or changed in one step of the loop: doing all 10,000 of a full mailbox at
# once (a search, marking all read, emptying it) held the loop 20-120 ms.
_STEP = 1000

_I = TypeVar("_I")


@dataclass(frozen=True)
class Page:
    summaries: list[Summary]  # the requested window, newest first
    matched: int  # every message the query found
    matched_unread: int


@dataclass
class Counters:
    evicted: int = 0
    deleted: int = 0


class Store:
    def __init__(
        self,
        *,
        max_messages: int,
        db_path: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        make_id: Callable[[], str] = new_id,
        event_frame: Callable[[Event], str],
        parsers: ParserPool | None = None,
    ) -> None:
        self._parsers = parsers
        self.max_messages = max_messages
        self.db_path = db_path
        self.counters = Counters()
        self._clock = clock
        self._make_id = make_id
        self._index = Index(max_messages)
        self._last_seq = 0
        self._write_lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._closed = False
        self._events = EventLog(self._changed, lambda: self._closed, event_frame)
        self._waiting = 0
        self._db: Database | None = None
        self._executor: ThreadPoolExecutor | None = None

    # --- life cycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        if self._parsers is not None:
            await self._parsers.start()
        if self.db_path is None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devmail-db")
        db = self._db = Database(self.db_path)
        self._last_seq = await self._in_db(db.open)
        if self.max_messages:
            # A smaller --max than last time: drop the oldest now (counted as evicted).
            overflow = await self._in_db(db.ids_before, self.max_messages)
            if overflow:
                await self._in_db(db.delete, overflow)
                self.counters.evicted += len(overflow)
        for row in await self._in_db(lambda: list(db.rows(self.max_messages))):
            self._index.insert(row.stored, row.read, row.tags)

    async def release(self) -> None:
        """Answer every long-poll and end every subscription now (shutdown must not wait)."""
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def close(self) -> None:
        await self.release()
        if self._parsers is not None:
            await self._parsers.close()
        if self._db is not None:
            await self._in_db(self._db.close)
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def _in_db(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # --- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._index)

    @property
    def unread(self) -> int:
        return self._index.unread

    @property
    def released(self) -> bool:
        """True once shutdown began: waits end at once and no new ones start."""
        return self._closed

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def tag_counts(self) -> dict[str, int]:
        return self._index.tag_counts()

    def summary(self, message_id: str) -> Summary | None:
        stored = self._index.get(message_id)
        return None if stored is None else self._index.summary(stored)

    @staticmethod
    async def _steps(items: Sequence[_I]) -> AsyncIterator[Sequence[_I]]:
        """`items` _STEP at a time, the loop serving others between them."""
        for first in range(0, len(items), _STEP):
            if first:
                await asyncio.sleep(0)
            yield items[first : first + _STEP]

    async def _in_batches(self) -> AsyncIterator[list[Stored]]:
        """Every message, newest first, a step at a time (the first search after mail arrived
        also works out each one's search text). Each batch holds only messages still stored,
        and is the caller's until it asks for the next."""
        async for batch in self._steps(list(self._index.newest_first())):
            yield [s for s in batch if s.id in self._index]

    async def found(self, query: Query | None = None) -> list[Stored]:
        """The messages `query` finds (all without one), newest first."""
        if query is None or not query.terms:
            return list(self._index.newest_first())
        found: list[Stored] = []
        async for batch in self._in_batches():
            found += (s for s in batch if self._index.matches(query, s))
        return found

    async def page(self, query: Query | None, start: int, limit: int) -> Page:
        """One page of what `query` finds, with the counts a listing shows.

        Only the page's summaries are built: listing the newest 50 of 10,000 messages built
        all 10,000 and took 25-65 ms, in which SMTP and every other request waited.
        """
        index = self._index
        if query is None or not query.terms:
            window = islice(index.newest_first(), start, start + limit)
            return Page([index.summary(s) for s in window], len(index), index.unread)
        found = [s for s in await self.found(query) if s.id in index]
        window = [index.summary(s) for s in found[start : start + limit]]
        unread = sum(not index.is_read(s.id) for s in found)
        return Page(window, len(found), unread)

    def latest(self, query: Query | None, after_seq: int = 0) -> Summary | None:
        """The newest match with seq > after_seq, looked for in one step (for a few messages)."""
        for stored in self._index.newest_first():
            if stored.seq <= after_seq:
                return None
            if query is None or self._index.matches(query, stored):
                return self._index.summary(stored)
        return None

    async def newest(self, query: Query | None, after_seq: int = 0) -> Summary | None:
        """`latest` over the whole mailbox a batch at a time: a query that matches nothing (a
        test waiting for mail not sent yet) looked at every message in one step. Whatever
        arrives during the look is looked at last, before the answer."""
        index = self._index
        top = self._last_seq
        found: Stored | None = None
        matches = index.matches
        async for batch in self._in_batches():
            # The first message that is too old to count or that matches ends the look.
            ends = (s for s in batch if s.seq <= after_seq or query is None or matches(query, s))
            hit = next(ends, None)
            if hit is not None:
                found = hit if hit.seq > after_seq else None
                break
        newer = self.latest(query, max(after_seq, top))
        if newer is not None:
            return newer
        return index.summary(found) if found is not None else None

    def seq_of(self, message_id: str) -> int | None:
        return self._index.seq_of(message_id)

    async def raw(self, message_id: str) -> bytes | None:
        if message_id not in self._index:
            return None
        if self._db is None:
            return self._index.raw.get(message_id)
        return await self._in_db(self._db.raw, message_id)

    async def wait_latest(
        self, query: Query | None, after_seq: int, seconds: float
    ) -> Summary | None:
        """The newest match with seq > after_seq, waiting up to `seconds` for one to arrive.

        Woken by the condition on every change; after the first full look only messages that
        arrived since the previous look are examined, so many waiters stay cheap.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        found = await self.newest(query, after_seq)
        if found is not None or self._closed:
            return found
        after_seq = max(after_seq, self._last_seq)  # everything up to here was looked at
        async with self._changed:
            found = self.latest(query, after_seq)  # what came while the lock was taken
            if found is not None or self._closed:
                return found
            self._waiting += 1
            self._changed.notify_all()
            try:
                while True:
                    after_seq = max(after_seq, self._last_seq)
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return None
                    try:
                        async with asyncio.timeout(remaining):
                            await self._changed.wait()
                    except TimeoutError:
                        return self.latest(query, after_seq)
                    found = self.latest(query, after_seq)
                    if found is not None or self._closed:
                        return found
            finally:
                self._waiting -= 1

    @property
    def waiting(self) -> int:
        """Long-polls being held right now."""
        return self._waiting

    async def until_waiting(self, count: int) -> None:
        """Return once `count` long-polls are held (lets a test send mail mid-wait, for sure)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._waiting >= count)

    def subscribe(self) -> Subscription:
        """Start collecting events now (before any await, so none is missed in a handshake)."""
        return self._events.subscribe()

    @property
    def parsers(self) -> ParserPool | None:
        return self._parsers

    @property
    def subscriber_count(self) -> int:
        return self._events.subscriber_count

    # --- writing ----------------------------------------------------------------------------

    async def add(
        self,
        raw: bytes,
        envelope: Envelope,
        tags: tuple[str, ...] = (),
        *,
        crowded: bool = False,
    ) -> Summary:
        """Store one message; `crowded`: other deliveries are under way, parse it elsewhere."""
        parsed = await self._parse(raw, crowded)
        async with self._write_lock:
            stored = Stored(
                id=self._make_id(),
                seq=self._last_seq + 1,
                created=self._clock(),
                size=len(raw),
                envelope=envelope,
                parsed=parsed,
            )
            evict = self._index.overflow(1)
            if self._db is not None:
                await self._in_db(self._db.insert, stored, raw, evict, tags)
            else:
                self._index.raw[stored.id] = raw
            self._last_seq = stored.seq
            key = stored.group_key
            before = self._index.group_state(key)
            self._index.insert(stored, tags=tags)
            events = [Event("new", self._index.summary(stored))]
            events += self._drop(evict)
            self.counters.evicted += len(evict)
            events += self._updates(self._index.changed_in_group(key, before, skip=stored.id))
            await self._publish(events)
            return self._index.summary(stored)

    async def _parse(self, raw: bytes, crowded: bool) -> ParsedMessage:
        large = len(raw) > INLINE_PARSE_LIMIT
        if self._parsers is not None and (crowded or large):
            parsed = await self._parsers.parse(raw)
            if parsed is not None:
                return parsed
        if not large:
            return parse(raw)
        return await asyncio.get_running_loop().run_in_executor(None, parse, raw)

    async def mark_read(self, message_id: str) -> Summary | None:
        await self.set_read([message_id], True)
        return self.summary(message_id)

    async def set_read(self, ids: Sequence[str] | None, read: bool) -> int:
        """Mark these IDs (unknown ones are ignored), or every message, read or unread."""
        async with self._write_lock:
            targets = self._known(ids)
            targets = [i for i in targets if self._index.is_read(i) != read]
            if not targets:
                return 0
            if self._db is not None:
                await self._in_db(self._db.set_read, targets, read)
            async for batch in self._steps(targets):
                for message_id in batch:
                    self._index.set_read(message_id, read)
                await self._publish(self._updates(self._stored(batch)))
            return len(targets)

    async def set_tags(self, ids: Sequence[str], tags: Sequence[str]) -> int:
        """These messages get exactly these tags (deduplicated, in the order given)."""
        wanted = tuple(dict.fromkeys(tags))
        async with self._write_lock:
            targets = [i for i in self._known(ids) if self._index.tags_of(i) != wanted]
            return await self._retag({i: wanted for i in targets})

    async def rename_tag(self, old: str, new: str) -> int:
        async with self._write_lock:
            changes = {}
            for message_id in self._index.ids():
                tags = self._index.tags_of(message_id)
                if old in tags:
                    renamed = (new if t == old else t for t in tags)
                    changes[message_id] = tuple(dict.fromkeys(renamed))
            return await self._retag(changes)

    async def delete_tag(self, tag: str) -> int:
        async with self._write_lock:
            changes = {}
            for message_id in self._index.ids():
                tags = self._index.tags_of(message_id)
                if tag in tags:
                    changes[message_id] = tuple(t for t in tags if t != tag)
            return await self._retag(changes)

    async def delete(self, ids: Sequence[str] | None) -> int:
        """Delete these IDs (unknown ones are ignored), or everything when `ids` is None."""
        async with self._write_lock:
            targets = self._known(ids)
            if not targets:
                return 0
            if self._db is not None:
                await self._in_db(self._db.delete, targets)
            async for batch in self._steps(targets):
                events = self._drop(batch)
                self.counters.deleted += len(batch)
                await self._publish(events)
            return len(targets)

    # --- internals --------------------------------------------------------------------------

    def _known(self, ids: Sequence[str] | None) -> list[str]:
        if ids is None:
            return self._index.ids()
        return [i for i in dict.fromkeys(ids) if i in self._index]

    def _stored(self, ids: Iterable[str]) -> list[Stored]:
        return [s for s in (self._index.get(i) for i in ids) if s is not None]

    def _updates(self, changed: Iterable[Stored]) -> list[Event]:
        return [Event("update", self._index.summary(s)) for s in changed]

    async def _retag(self, changes: dict[str, tuple[str, ...]]) -> int:
        if not changes:
            return 0
        if self._db is not None:
            await self._in_db(self._db.set_tags, changes)
        async for batch in self._steps(list(changes.items())):
            for message_id, tags in batch:
                self._index.set_tags(message_id, tags)
            await self._publish(self._updates(self._stored(message_id for message_id, _ in batch)))
        return len(changes)

    def _drop(self, ids: Iterable[str]) -> list[Event]:
        """Remove messages: a 'delete' event each, then 'update' where supersession changed."""
        events: list[Event] = []
        befores: dict[GroupKey, dict[str, str | None]] = {}
        for message_id in ids:
            stored = self._index.get(message_id)
            assert stored is not None
            key = stored.group_key
            if key is not None and key not in befores:
                befores[key] = self._index.group_state(key)
            events.append(Event("delete", self._index.summary(stored)))
            self._index.remove(message_id)
        for key, before in befores.items():
            events += self._updates(self._index.changed_in_group(key, before))
        return events

    async def _publish(self, events: list[Event]) -> None:
        self._events.append(events)
        async with self._changed:
            self._changed.notify_all()
