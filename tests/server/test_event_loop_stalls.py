"""No request blocks the event loop: the real app under a bounded mixed load (logins, GET
/api/me/, signups) in asyncio debug mode, whose slow-callback warnings (50 ms) must stay silent.
The argon2 cost is set above the production default (t=3, 64 MiB: over 100 ms a hash), so a hash
that ran on the loop would be past the threshold even on a fast machine.

On a loaded 2-core CI machine a callback can take 50 ms of wall time only because the kernel ran
another process meanwhile. So a warning counts when the loop thread also spent at least half of
that threshold on the CPU inside the callback: real blocking work (hashing, building SQL, a
large encode) does, being descheduled does not. (Sync database I/O on the loop is refused outright
by core.db.connection().) The cyclic garbage collector's pauses are not counted: in this process
they walk pytest's heap (about 50 ms per full collection here), which no server has, and
`acctkit serve` freezes its start-up heap (server/serve.py). The canary test proves the detector
still fails on real blocking work.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.conftest import Inbox
from tests.server.support import PASSWORD, Account, sign_up

SLOW = 0.05


class StallMonitor:
    """Times every callback the loop runs, in wall and loop-thread CPU time, next to asyncio's
    own debug-mode warning (which says only that a callback was slow)."""

    def __init__(self) -> None:
        self.stalls: list[tuple[str, float, float]] = []
        self.watched: int | None = None  # the thread of the loop that serves the app
        self.collecting: dict[int, float] = {}  # thread -> thread CPU time when a collection began
        self.collected: dict[int, float] = {}  # thread -> CPU time spent collecting so far

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        thread = threading.get_ident()
        if phase == "start":
            self.collecting[thread] = time.thread_time()
        elif thread in self.collecting:
            spent = time.thread_time() - self.collecting.pop(thread)
            self.collected[thread] = self.collected.get(thread, 0.0) + spent

    def gc_time(self) -> float:
        return self.collected.get(threading.get_ident(), 0.0)

    def record(self, handle: asyncio.Handle, wall: float, cpu: float) -> None:
        if threading.get_ident() == self.watched and wall >= SLOW and cpu >= SLOW / 2:
            self.stalls.append((repr(handle)[:200], wall, cpu))


@pytest.fixture
def monitor(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[StallMonitor]:
    stall_monitor = StallMonitor()
    original = asyncio.Handle._run

    def timed_run(handle: asyncio.Handle) -> None:
        wall, cpu, collecting = time.perf_counter(), time.thread_time(), stall_monitor.gc_time()
        try:
            original(handle)
        finally:
            collected = stall_monitor.gc_time() - collecting
            spent = time.thread_time() - cpu - collected
            stall_monitor.record(handle, time.perf_counter() - wall, spent)

    monkeypatch.setattr(asyncio.Handle, "_run", timed_run)
    gc.callbacks.append(stall_monitor.on_gc)
    caplog.set_level(logging.WARNING, logger="asyncio")
    yield stall_monitor
    gc.callbacks.remove(stall_monitor.on_gc)


def debug_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW
    return loop


def confirmed(monitor: StallMonitor, caplog: pytest.LogCaptureFixture) -> list[str]:
    """asyncio's slow-callback warnings that the CPU measure confirms as real blocking."""
    warned = [
        r.getMessage() for r in caplog.records if r.name == "asyncio" and "took" in r.getMessage()
    ]
    if not warned:
        return []
    return [
        f"{name}: {wall * 1e3:.0f} ms, {cpu * 1e3:.0f} ms CPU" for name, wall, cpu in monitor.stalls
    ]


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
