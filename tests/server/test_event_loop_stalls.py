"""No request blocks the event loop: the real app under a bounded mixed load (logins, GET
/api/me/, signups) in asyncio debug mode, whose slow-callback warnings (50 ms) must stay silent.
The argon2 cost is set above the production default (t=3, 64 MiB: over 100 ms a hash), so a hash
that ran on the loop would be past the threshold even on a fast machine.

How a stall is confirmed (loop-thread CPU time, garbage collection left out) is in
tests/stalls.py; `acctkit serve` freezes its start-up heap (server/serve.py), so collections
walk less there than here. (Sync database I/O on the loop is refused outright by
core.db.connection().) The canary test proves the detector still fails on real blocking work.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import aiohttp
import pytest

from tests.conftest import Inbox
from tests.server.support import PASSWORD, Account, sign_up
from tests.stalls import SLOW, StallMonitor, confirmed, debug_loop


async def mixed_load(base: str, people: list[Account]) -> None:
    """The clients, on their own loop in another thread: only the server's loop is watched."""
    async with aiohttp.ClientSession(base) as session:

        async def logins(who: Account) -> None:
            for _ in range(3):
                body = {"username": who.username, "password": PASSWORD}
                async with session.post("/api/token/", json=body) as resp:
                    assert resp.status == 200, await resp.text()

        async def me(who: Account) -> None:
            for _ in range(40):
                async with session.get("/api/me/", headers=who.auth) as resp:
                    assert resp.status == 200, await resp.text()
                    assert (await resp.json())["username"] == who.username

        async def signups(n: int) -> None:
            for k in range(3):
                body = {
                    "first_name": "Load",
                    "last_name": "Test",
                    "username": f"load{n}x{k}",
                    "email": f"load{n}x{k}@example.com",
                    "password": PASSWORD,
                }
                async with session.post("/api/auth/signup/", json=body) as resp:
                    assert resp.status == 202, await resp.text()

        await asyncio.gather(
            *(logins(p) for p in people),
            *(me(p) for p in people * 2),
            *(signups(n) for n in range(2)),
        )


async def test_mixed_load_never_blocks_the_loop(
    database_url: str,
    make_client: Any,
    inbox: Inbox,
    monitor: StallMonitor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On both backends: SQLite reads /me on the loop, PostgreSQL batches it (server.batcher)."""
    client = await make_client(database_url, argon2_time_cost=3, argon2_memory_kib=65536)
    people = [await sign_up(client, inbox, name) for name in ("ann", "bob")]
    debug_loop()
    monitor.watched = threading.get_ident()
    caplog.clear()
    await asyncio.to_thread(asyncio.run, mixed_load(str(client.make_url("/")), people))
    assert confirmed(monitor, caplog) == []


async def test_the_detector_catches_a_blocking_callback(
    make_client: Any, monitor: StallMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    """The canary: CPU-bound work on the loop (what hashing there would be) is reported."""
    await make_client()
    loop = debug_loop()
    monitor.watched = threading.get_ident()
    done = loop.create_future()

    def block() -> None:
        end = time.thread_time() + 2 * SLOW
        while time.thread_time() < end:
            pass
        done.set_result(None)

    loop.call_soon(block)
    await done
    found = confirmed(monitor, caplog)
    assert any("block" in line for line in found), found
