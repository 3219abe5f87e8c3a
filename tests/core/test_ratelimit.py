"""Rate limits: a peek reads, a hit writes, and both see the same committed state."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from core import db, ratelimit
from core.context import Context
from core.models import RateLimit

LIMIT = ratelimit.Limit("test", 3, 60)


def test_a_peek_writes_nothing_and_sees_an_exhausted_limit(ctx: Context) -> None:
    with db.connection():
        assert ratelimit.hit(ctx, LIMIT, "who", consume=False) is None
        assert not RateLimit.select().exists()  # peeking created no row
        for _ in range(3):
            assert ratelimit.hit(ctx, LIMIT, "who") is None
        tat = RateLimit.get().tat
        retry = ratelimit.hit(ctx, LIMIT, "who", consume=False)
        assert retry is not None and retry > 0
        assert RateLimit.get().tat == tat  # peeking consumed nothing
        assert ratelimit.hit(ctx, LIMIT, "who") == retry
        assert ratelimit.hit(ctx, LIMIT, "someone else", consume=False) is None


def test_a_peek_does_not_wait_for_the_sqlite_write_lock(ctx: Context, migrated: str) -> None:
    if not migrated.startswith("sqlite"):
        pytest.skip("the write lock this is about is SQLite's database-wide one")
    with db.connection():
        for _ in range(3):
            ratelimit.hit(ctx, LIMIT, "who")
    writer = sqlite3.connect(Path(migrated.removeprefix("sqlite:///")), timeout=0)
    writer.execute("BEGIN IMMEDIATE")  # another worker holds the write lock
    try:
        started = time.monotonic()
        with db.connection():
            assert ratelimit.hit(ctx, LIMIT, "who", consume=False) is not None
        assert time.monotonic() - started < 2  # busy_timeout is 10 s: it did not wait for it
    finally:
        writer.rollback()
        writer.close()
