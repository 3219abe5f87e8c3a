"""The one sanctioned database call on the event loop thread: a short SQLite read.

GET /api/me/ reads its row on the loop on SQLite (docs/performance.md measures why); everything
else, and every PostgreSQL call, still refuses the loop thread."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from core import authentication, db, schema, sessions
from core.clock import FrozenClock
from core.context import Context
from core.models import User
from tests.conftest import make_settings
from tests.core.test_profile import PASSWORD, make_user


@contextlib.contextmanager
def context_on(url: str) -> Iterator[Context]:
    db.open_database(url)
    try:
        with ThreadPoolExecutor(1) as off_the_loop:
            off_the_loop.submit(schema.migrate).result()
        yield Context.create(make_settings(url), clock=FrozenClock())
    finally:
        db.close_database()


async def test_a_sqlite_read_runs_on_the_loop_and_a_write_there_fails(sqlite_url: str) -> None:
    with context_on(sqlite_url) as ctx:
        await _read_then_write_on_the_loop(ctx)


async def _read_then_write_on_the_loop(ctx: Context) -> None:
    await asyncio.to_thread(make_user, ctx)
    pair = await asyncio.to_thread(sessions.login, ctx, "alice", PASSWORD)
    with db.read_on_event_loop():
        me = authentication.me_by_token(ctx, pair.access)
    assert me.username == "alice"

    with (
        pytest.raises(db.BlockingCallOnEventLoop, match="wrote"),
        db.read_on_event_loop(),
        db.connection(),
    ):
        User.update(first_name="Mallory").execute()
    with pytest.raises(db.BlockingCallOnEventLoop, match="executor"):
        authentication.me_by_token(ctx, pair.access)  # outside it, the loop is refused as before


async def test_postgresql_never_reads_on_the_loop(postgres_url: str) -> None:
    with (
        context_on(postgres_url),
        pytest.raises(db.BlockingCallOnEventLoop, match="only SQLite"),
        db.read_on_event_loop(),
    ):
        pass
