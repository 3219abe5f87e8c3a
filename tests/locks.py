"""Lining requests up behind a PostgreSQL row a test holds: how the deadlock tests make both
sides of a race wait at the same lock, in a known order, instead of hoping for a timing."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future

import psycopg2

from tests.conftest import PG_DSN

_TRIES = 500  # 10 ms apart: a safety net of 5 s, never a measurement


def waiting_for_locks(application: str) -> int:
    """How many connections named `application` (`application_name` in their URL) wait for
    a lock now."""
    with psycopg2.connect(PG_DSN) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND wait_event_type = 'Lock'",
            (application,),
        )
        return int(cur.fetchone()[0])


def until_waiting(application: str, count: int, *, unless: Future | None = None) -> None:
    """Return once `count` connections of `application` wait for a lock, or once the work
    `unless` has finished (it waited for none)."""
    for _ in range(_TRIES):
        if unless is not None and unless.done():
            return
        if waiting_for_locks(application) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} connections wait for a lock")


async def until_waiting_async(application: str, count: int) -> None:
    """`until_waiting` for a test whose service runs on its own event loop."""
    for _ in range(_TRIES):
        if waiting_for_locks(application) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {count} requests of the service wait for a lock")
