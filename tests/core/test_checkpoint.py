"""SQLite's write-ahead log is checkpointed by a thread of the server's, not inside requests.

A checkpoint is what writes committed pages into the database file itself: until one runs,
they live in the log alone, and the file keeps its size."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from core import db, schema
from core.checkpoint import Checkpointer
from core.clock import FrozenClock
from core.models import RateLimit

PAGE = 4096
WRITES = 1_500  # commits of a page or more each: past SQLite's default checkpoint at 1,000
_KEYS = itertools.count()


@pytest.fixture
def path(sqlite_url: str) -> Iterator[str]:
    db.open_database(sqlite_url)
    schema.migrate(FrozenClock())
    yield sqlite_url.removeprefix("sqlite:///")
    db.close_database()


def _write(n: int) -> None:
    """n commits, each dirtying a page or more of its own (a row with a long key), as logins
    across a large population do."""
    now = datetime.now(UTC)
    for _ in range(n):
        with db.connection(), db.write_transaction():
            RateLimit.insert(key=f"{next(_KEYS):05d}-" + "k" * 1000, tat=now).execute()


def _checkpointed(path: str, start: int) -> int:
    """Pages the database file gained since `start` bytes: what checkpoints wrote into it."""
    return (os.path.getsize(path) - start) // PAGE


def test_commits_leave_the_log_to_the_checkpointer(path: str) -> None:
    """With SQLite's default, the commit that made the log reach 1,000 pages checkpointed it
    (and waited for its fsync). With the backstop at 10,000 pages, no commit here did."""
    _write(1)
    start = os.path.getsize(path)
    _write(WRITES)
    assert _checkpointed(path, start) == 0


def test_the_checkpointer_moves_the_log_into_the_file(path: str) -> None:
    _write(1)
    start = os.path.getsize(path)
    _write(WRITES)
    checkpointer = Checkpointer(interval=0.01)
    checkpointer.start()
    try:
        deadline = time.monotonic() + 10
        while _checkpointed(path, start) < WRITES and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        checkpointer.stop()
    assert _checkpointed(path, start) >= WRITES
