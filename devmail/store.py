"""The mailbox: every caught message in arrival order, bounded, optionally kept in SQLite.

All state lives on the event loop thread; SQLite is only touched from one dedicated thread
(a single-worker executor), so the loop never blocks on disk and the connection never crosses
threads. Every change is published as events under one `asyncio.Condition`, which wakes both
the long-polls waiting for a matching message and the websocket subscribers: no one polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sqlite3
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from itertools import islice
from typing import Any, Literal, TypeVar

from devmail.parse import ParsedMessage, parse, scan_html
from devmail.search import Query

_T = TypeVar("_T")

# Parsing a large message takes long enough to stall other connections; small ones are
# cheaper to parse in place than to hand to a thread.
INLINE_PARSE_LIMIT = 256 * 1024
# IDs of deleted messages remembered so that `after=ID` still works once that message is gone.
TOMBSTONES = 100_000
# Events kept for a websocket subscriber that is slow to read; past this it is disconnected
# (told so with a close code) rather than silently skipping events.
EVENT_BACKLOG = 200_000

EventType = Literal["new", "delete", "update"]


def new_id() -> str:
    """22 URL-safe characters, like Mailpit's IDs; random so IDs reveal nothing and never clash."""
    return secrets.token_urlsafe(16)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_to: tuple[str, ...]


def envelope_mismatch(envelope: Envelope, parsed: ParsedMessage) -> bool:
    """True when the SMTP envelope delivered to someone the headers do not name.

    The rule: every envelope recipient (RCPT TO) must appear, case-insensitively, among the
    To, Cc or Bcc header addresses. Bcc recipients legitimately appear only in the envelope
    when the sender strips the Bcc header, so they are not tolerated silently: a service that
    means to Bcc should keep the header when sending to a catcher. The converse is not a
    mismatch: a sender may split one message into one SMTP transaction per recipient, so a
    header address missing from this envelope is normal.
    """
    named = {a.address.casefold() for a in (*parsed.to, *parsed.cc, *parsed.bcc)}
    return any(rcpt.casefold() not in named for rcpt in envelope.rcpt_to)


@dataclass(frozen=True)
class Stored:
    """One message as received; immutable, so it can be handed to any reader safely."""

    id: str
    seq: int
    created: datetime
    size: int
    envelope: Envelope
    parsed: ParsedMessage

    @cached_property
    def envelope_mismatch(self) -> bool:
        return envelope_mismatch(self.envelope, self.parsed)

    @cached_property
    def search_fields(self) -> dict[str, str]:
        p = self.parsed

        def people(addresses: Iterable[Any]) -> str:
            return " ".join(f"{a.name} <{a.address}>" for a in addresses)

        fields = {
            "to": " ".join([people((*p.to, *p.cc, *p.bcc)), *self.envelope.rcpt_to]),
            "from": " ".join([people([p.from_] if p.from_ else []), self.envelope.mail_from]),
            "subject": p.subject,
            "message-id": p.message_id,
            "flow": p.flow or "",
            "ref": p.ref or "",
        }
        bodies = [p.text, scan_html(p.html).text if p.html else "", " ".join(p.codes)]
        fields["text"] = "\n".join([*fields.values(), *bodies])
        return {name: value.casefold() for name, value in fields.items()}


@dataclass(frozen=True)
class Summary:
    """A message plus the state that changes after arrival (read, superseded)."""

    message: Stored
    read: bool
    superseded_by: str | None

    @property
    def superseded(self) -> bool:
        return self.superseded_by is not None


@dataclass(frozen=True)
class Event:
    type: EventType
    summary: Summary


class SubscriberLagged(Exception):
    """A websocket reader fell more than EVENT_BACKLOG events behind."""


@dataclass
class Counters:
    evicted: int = 0
    deleted: int = 0


_GroupKey = tuple[str, str]


class Store:
    def __init__(
        self,
        *,
        max_messages: int,
        db_path: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        make_id: Callable[[], str] = new_id,
    ) -> None:
        self.max_messages = max_messages
        self.db_path = db_path
        self.counters = Counters()
        self._clock = clock
        self._make_id = make_id
        self._entries: OrderedDict[str, Stored] = OrderedDict()
        self._read: set[str] = set()
        self._raw: dict[str, bytes] = {}
        self._groups: dict[_GroupKey, set[str]] = {}
        self._tombstones: OrderedDict[str, int] = OrderedDict()
        self._last_seq = 0
        self._write_lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._log: deque[Event] = deque()
        self._log_end = 0
        self._subscribers: dict[object, int] = {}
        self._closed = False
        self._waiting = 0
        self._db: _Database | None = None
        self._executor: ThreadPoolExecutor | None = None

    # --- life cycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        if self.db_path is None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devmail-db")
        self._db = _Database(self.db_path)
        rows, last_seq = await self._in_db(self._db.open_and_load)
        for row in rows:
            self._insert(row)
            if row.read:
                self._read.add(row.stored.id)
        self._last_seq = last_seq
        await self._evict_overflow_after_load()

    async def release(self) -> None:
        """Answer every long-poll and end every subscription now (shutdown must not wait)."""
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def close(self) -> None:
        await self.release()
        if self._db is not None:
            await self._in_db(self._db.close)
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def _in_db(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _evict_overflow_after_load(self) -> None:
        """A smaller --max than last time: drop the oldest now (they are counted as evicted)."""
        overflow = self._overflow(0)
        if overflow and self._db is not None:
            await self._in_db(self._db.delete, overflow)
            for message_id in overflow:
                self._remove(message_id)
            self.counters.evicted += len(overflow)

    # --- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def unread(self) -> int:
        return len(self._entries) - len(self._read)

    @property
    def released(self) -> bool:
        """True once shutdown began: waits end at once and no new ones start."""
        return self._closed

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def summary(self, message_id: str) -> Summary | None:
        stored = self._entries.get(message_id)
        return None if stored is None else self._summary(stored)

    def summaries(self, query: Query | None = None) -> list[Summary]:
        """Newest first."""
        found = (self._summary(s) for s in reversed(self._entries.values()))
        if query is None or not query.terms:
            return list(found)
        return [s for s in found if self._matches(query, s)]

    def latest(self, query: Query | None, after_seq: int = 0) -> Summary | None:
        for stored in reversed(self._entries.values()):
            if stored.seq <= after_seq:
                return None
            summary = self._summary(stored)
            if query is None or self._matches(query, summary):
                return summary
        return None

    def seq_of(self, message_id: str) -> int | None:
        """Also answers for deleted messages, so `after=` survives a clean-up between tests."""
        stored = self._entries.get(message_id)
        return stored.seq if stored is not None else self._tombstones.get(message_id)

    async def raw(self, message_id: str) -> bytes | None:
        if message_id not in self._entries:
            return None
        if self._db is None:
            return self._raw.get(message_id)
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
        async with self._changed:
            found = self.latest(query, after_seq)
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
        return Subscription(self)

    async def _next_batch(self, token: object) -> list[Event]:
        async with self._changed:
            await self._changed.wait_for(
                lambda: self._closed or self._log_end > self._subscribers[token]
            )
        if self._closed:
            return []
        position = self._subscribers[token]
        first = self._log_end - len(self._log)
        if position < first:
            raise SubscriberLagged
        batch = list(islice(self._log, position - first, None))
        self._subscribers[token] = self._log_end
        self._trim_log()
        return batch

    def _unsubscribe(self, token: object) -> None:
        self._subscribers.pop(token, None)
        self._trim_log()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    # --- writing ----------------------------------------------------------------------------

    async def add(self, raw: bytes, envelope: Envelope) -> Summary:
        if len(raw) <= INLINE_PARSE_LIMIT:
            parsed = parse(raw)
        else:
            parsed = await asyncio.get_running_loop().run_in_executor(None, parse, raw)
        async with self._write_lock:
            stored = Stored(
                id=self._make_id(),
                seq=self._last_seq + 1,
                created=self._clock(),
                size=len(raw),
                envelope=envelope,
                parsed=parsed,
            )
            evict = self._overflow(1)
            if self._db is not None:
                await self._in_db(self._db.insert, stored, raw, evict)
            else:
                self._raw[stored.id] = raw
            self._last_seq = stored.seq
            key = _group_key(stored)
            before = self._group_state(key)
            self._insert(_Row(stored, read=False))
            events = [Event("new", self._summary(stored))]
            events += self._drop(evict)
            self.counters.evicted += len(evict)
            events += self._group_updates(key, before, skip=stored.id)
            await self._publish(events)
            return self._summary(stored)

    async def mark_read(self, message_id: str) -> Summary | None:
        async with self._write_lock:
            stored = self._entries.get(message_id)
            if stored is None:
                return None
            if message_id not in self._read:
                if self._db is not None:
                    await self._in_db(self._db.mark_read, message_id)
                self._read.add(message_id)
                await self._publish([Event("update", self._summary(stored))])
            return self._summary(stored)

    async def delete(self, ids: Sequence[str] | None) -> int:
        """Delete these IDs (unknown ones are ignored), or everything when `ids` is None."""
        async with self._write_lock:
            targets = list(self._entries) if ids is None else list(dict.fromkeys(ids))
            targets = [i for i in targets if i in self._entries]
            if not targets:
                return 0
            if self._db is not None:
                await self._in_db(self._db.delete, targets)
            events = self._drop(targets)
            self.counters.deleted += len(targets)
            await self._publish(events)
            return len(targets)

    # --- internals --------------------------------------------------------------------------

    def _summary(self, stored: Stored) -> Summary:
        return Summary(stored, stored.id in self._read, self._superseded_by(stored))

    def _matches(self, query: Query, summary: Summary) -> bool:
        flags = {"read" if summary.read else "unread"}
        flags.add("superseded" if summary.superseded else "current")
        return query.matches(summary.message.search_fields, frozenset(flags))

    def _overflow(self, incoming: int) -> list[str]:
        if not self.max_messages:
            return []
        excess = len(self._entries) + incoming - self.max_messages
        return list(islice(self._entries, max(0, excess)))

    def _insert(self, row: _Row) -> None:
        stored = row.stored
        self._entries[stored.id] = stored
        key = _group_key(stored)
        if key is not None:
            self._groups.setdefault(key, set()).add(stored.id)

    def _remove(self, message_id: str) -> Stored:
        stored = self._entries.pop(message_id)
        self._read.discard(message_id)
        self._raw.pop(message_id, None)
        key = _group_key(stored)
        if key is not None:
            members = self._groups[key]
            members.discard(message_id)
            if not members:
                del self._groups[key]
        self._tombstones[message_id] = stored.seq
        while len(self._tombstones) > TOMBSTONES:
            self._tombstones.popitem(last=False)
        return stored

    def _drop(self, ids: Iterable[str]) -> list[Event]:
        """Remove messages: a 'delete' event each, then 'update' where supersession changed."""
        events: list[Event] = []
        befores: dict[_GroupKey, dict[str, str | None]] = {}
        for message_id in ids:
            stored = self._entries[message_id]
            key = _group_key(stored)
            if key is not None and key not in befores:
                befores[key] = self._group_state(key)
            events.append(Event("delete", self._summary(stored)))
            self._remove(message_id)
        for key, before in befores.items():
            events += self._group_updates(key, before)
        return events

    def _superseded_by(self, stored: Stored) -> str | None:
        """The group's newest message (highest RefSeq, then arrival) if its RefSeq is higher.

        "Later" is judged by RefSeq, not by arrival, so a resend delivered before the original
        still marks the original superseded, which is exactly the out-of-order case to catch.
        """
        key = _group_key(stored)
        if key is None:
            return None
        head = max(
            (self._entries[i] for i in self._groups[key]),
            key=lambda s: (s.parsed.ref_seq or 0, s.seq),
        )
        if (head.parsed.ref_seq or 0) > (stored.parsed.ref_seq or 0):
            return head.id
        return None

    def _group_state(self, key: _GroupKey | None) -> dict[str, str | None]:
        if key is None or key not in self._groups:
            return {}
        return {i: self._superseded_by(self._entries[i]) for i in self._groups[key]}

    def _group_updates(
        self, key: _GroupKey | None, before: dict[str, str | None], skip: str | None = None
    ) -> list[Event]:
        after = self._group_state(key)
        return [
            Event("update", self._summary(self._entries[i]))
            for i, superseded_by in sorted(after.items(), key=lambda kv: self._entries[kv[0]].seq)
            if i != skip and i in before and before[i] != superseded_by
        ]

    async def _publish(self, events: list[Event]) -> None:
        if self._subscribers:
            self._log.extend(events)
            self._log_end += len(events)
            while len(self._log) > EVENT_BACKLOG:
                self._log.popleft()
        async with self._changed:
            self._changed.notify_all()

    def _trim_log(self) -> None:
        """Forget events every subscriber has already taken."""
        if not self._subscribers:
            self._log.clear()
            return
        keep_from = min(self._subscribers.values())
        first = self._log_end - len(self._log)
        for _ in range(max(0, keep_from - first)):
            self._log.popleft()


class Subscription:
    """One reader of the event stream; use as a context manager so it always unsubscribes."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._token = object()
        store._subscribers[self._token] = store._log_end

    async def next_batch(self) -> list[Event]:
        """The events since the last call, waiting for at least one; [] once the store closes."""
        return await self._store._next_batch(self._token)

    def close(self) -> None:
        self._store._unsubscribe(self._token)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _group_key(stored: Stored) -> _GroupKey | None:
    p = stored.parsed
    if p.ref is None or p.ref_seq is None:
        return None
    return (p.flow or "", p.ref)


@dataclass(frozen=True)
class _Row:
    stored: Stored
    read: bool = False


@dataclass
class _Database:
    """SQLite persistence; every method runs on the store's single DB thread.

    Only raw bytes, envelope and state are kept: the parsed view is rebuilt on load, so a
    better parser also improves messages caught before it.
    """

    path: str
    conn: sqlite3.Connection | None = field(default=None)

    def open_and_load(self) -> tuple[list[_Row], int]:
        conn = self.conn = sqlite3.connect(self.path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        with conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS message (id TEXT PRIMARY KEY, seq INTEGER NOT NULL"
                " UNIQUE, created TEXT NOT NULL, mail_from TEXT NOT NULL, rcpt_to TEXT NOT NULL,"
                " raw BLOB NOT NULL, read INTEGER NOT NULL DEFAULT 0)"
            )
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)")
        rows = []
        cursor = conn.execute(
            "SELECT id, seq, created, mail_from, rcpt_to, raw, read FROM message ORDER BY seq"
        )
        for message_id, seq, created, mail_from, rcpt_to, raw, read in cursor:
            stored = Stored(
                id=message_id,
                seq=seq,
                created=datetime.fromisoformat(created),
                size=len(raw),
                envelope=Envelope(mail_from, tuple(json.loads(rcpt_to))),
                parsed=parse(bytes(raw)),
            )
            rows.append(_Row(stored, bool(read)))
        (last_seq,) = conn.execute(
            "SELECT MAX(v) FROM (SELECT MAX(seq) AS v FROM message"
            " UNION ALL SELECT value FROM meta WHERE key = 'last_seq')"
        ).fetchone()
        return rows, int(last_seq or 0)

    def _conn(self) -> sqlite3.Connection:
        assert self.conn is not None, "database not open"
        return self.conn

    def insert(self, stored: Stored, raw: bytes, evict: list[str]) -> None:
        conn = self._conn()
        with conn:
            conn.execute(
                "INSERT INTO message (id, seq, created, mail_from, rcpt_to, raw)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    stored.id,
                    stored.seq,
                    stored.created.isoformat(),
                    stored.envelope.mail_from,
                    json.dumps(stored.envelope.rcpt_to),
                    raw,
                ),
            )
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_seq', ?)", (stored.seq,))
            conn.executemany("DELETE FROM message WHERE id = ?", [(i,) for i in evict])

    def delete(self, ids: list[str]) -> None:
        conn = self._conn()
        with conn:
            conn.executemany("DELETE FROM message WHERE id = ?", [(i,) for i in ids])

    def mark_read(self, message_id: str) -> None:
        conn = self._conn()
        with conn:
            conn.execute("UPDATE message SET read = 1 WHERE id = ?", (message_id,))

    def raw(self, message_id: str) -> bytes | None:
        row = self._conn().execute("SELECT raw FROM message WHERE id = ?", (message_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
            self.conn = None
