"""One injectable UTC clock, so expiry is never compared across two clocks or naive datetimes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock tests move by hand instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now


def utc(value: datetime) -> datetime:
    """Refuse naive datetimes at the door: every time in core is aware and in UTC."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: acctkit only handles timezone-aware UTC times")
    return value.astimezone(UTC)
