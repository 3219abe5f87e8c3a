"""Event fan-out: every change becomes an event that each websocket subscriber reads in order.

One log is shared by all subscribers; each remembers its position, and events every
subscriber has taken are forgotten. A subscriber that falls EVENT_BACKLOG events behind is
told so (SubscriberLagged) instead of silently skipping events. With no subscriber nothing is
kept at all, so ingest without a websocket costs no memory here.

The log keeps each event as its websocket frame, encoded once for every subscriber, never as
the event itself: an event's summary holds its whole parsed message, so a log of events would
keep up to EVENT_BACKLOG messages alive for a subscriber that stopped reading, long after
retention evicted them (with `--max 1000`, a paused browser tab could have pinned 200,000).
A frame is a few hundred bytes; the backlog of a stalled subscriber stays within a few MB.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Literal

from devmail.message import Summary

EVENT_BACKLOG = 10_000

EventType = Literal["new", "delete", "update"]


@dataclass(frozen=True)
class Event:
    type: EventType
    summary: Summary


class SubscriberLagged(Exception):
    """A websocket reader fell more than EVENT_BACKLOG events behind."""


class EventLog:
    def __init__(
        self,
        changed: asyncio.Condition,
        closed: Callable[[], bool],
        frame: Callable[[Event], str],
    ) -> None:
        self._changed = changed
        self._closed = closed
        self._frame = frame
        self._log: deque[str] = deque()
        self._end = 0
        self._subscribers: dict[object, int] = {}

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def append(self, events: list[Event]) -> None:
        if not self._subscribers:
            return
        self._log.extend(self._frame(event) for event in events)
        self._end += len(events)
        while len(self._log) > EVENT_BACKLOG:
            self._log.popleft()

    def subscribe(self) -> Subscription:
        """Start collecting events now (before any await, so none is missed in a handshake)."""
        return Subscription(self)

    def _join(self, token: object) -> None:
        self._subscribers[token] = self._end

    async def _next_batch(self, token: object) -> list[str]:
        async with self._changed:
            await self._changed.wait_for(
                lambda: self._closed() or self._end > self._subscribers[token]
            )
        if self._closed():
            return []
        position = self._subscribers[token]
        first = self._end - len(self._log)
        if position < first:
            raise SubscriberLagged
        batch = list(islice(self._log, position - first, None))
        self._subscribers[token] = self._end
        self._trim()
        return batch

    def _leave(self, token: object) -> None:
        self._subscribers.pop(token, None)
        self._trim()

    def _trim(self) -> None:
        """Forget events every subscriber has already taken."""
        if not self._subscribers:
            self._log.clear()
            return
        keep_from = min(self._subscribers.values())
        first = self._end - len(self._log)
        for _ in range(max(0, keep_from - first)):
            self._log.popleft()


class Subscription:
    """One reader of the event stream; use as a context manager so it always unsubscribes."""

    def __init__(self, log: EventLog) -> None:
        self._log = log
        self._token = object()
        log._join(self._token)

    async def next_batch(self) -> list[str]:
        """The frames of the events since the last call, waiting for at least one; [] once the
        store closes."""
        return await self._log._next_batch(self._token)

    def close(self) -> None:
        self._log._leave(self._token)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
