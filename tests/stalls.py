"""Catching a blocked event loop in tests: asyncio's debug mode says a callback was slow, and
`StallMonitor` confirms it with the loop thread's CPU time inside that callback.

On a loaded 2-core CI machine a callback can take 50 ms of wall time only because the kernel ran
another process meanwhile. So a warning counts when the loop thread also spent at least half of
that threshold on the CPU inside the callback: real blocking work (hashing, building SQL, a
large encode or copy) does, being descheduled does not. The cyclic garbage collector's pauses
are not counted: in a test process they walk pytest's heap (about 50 ms per full collection
here), which no server has. The `monitor` fixture lives in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Iterator

import pytest

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


def monitoring(
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
