"""The password-hashing threads, and how they share the CPU with the event loop.

Two pools. Service calls that hash (login, signup, reset, password change) run in `callers_pool`
at normal priority: their reads and writes are ordinary database work. The argon2 computation
itself is handed (core.passwords.Passwords.run_in) to a `HashingPool`, whose threads lower their
own scheduling priority (Linux `setpriority` on the thread id; niceness is per thread there),
and the caller waits for it with the GIL released.

Why low priority: argon2 releases the GIL, so hashing competes with the event loops for cores,
not for the interpreter. At the loop's priority a login storm keeps every core hashing and the
kernel gives each loop only its fair share, so GET /api/me/ queues behind hashes. CFS weights a
nice-10 thread about 10x below a nice-0 one: a loop with work runs at once, and hashing takes
the cycles left over. Why only argon2: when the whole login ran niced, a niced thread holding the
GIL for a login's database work made the loop wait for a thread the kernel rarely ran (priority
inversion): /me p99 in a storm went from 16.1 ms to 10.4 ms when only the hash stayed niced.

Why at most cores hashes at once across the worker processes: see `HashingPool`. The trade-off
between /me's tail and logins kept during a storm is measured in docs/performance.md;
HASHING_NICENESS is the one knob.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

HASHING_NICENESS = 10
"""How much lower than the event loop the hashing threads run (0..19 above the process's own)."""


def _lower_priority() -> None:
    if not sys.platform.startswith("linux"):
        return
    # PermissionError cannot happen when raising niceness; OSError covers sandboxes that forbid it.
    with contextlib.suppress(OSError):
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + HASHING_NICENESS))


class Slots(Protocol):
    """A semaphore the host's worker processes share (multiprocessing.Semaphore)."""

    def __enter__(self) -> object: ...
    def __exit__(self, *exc: object) -> object: ...


class HashingPool(Executor):
    """As many low-priority threads as cores; with `slots`, a semaphore of as many permits shared
    by every worker process of the host, at most that many hashes run at once across them all.

    argon2id at its default cost fills 19 MiB. With 2 workers each hashing on 2 threads, 4 hashes
    were in flight on a 32 MiB L3 that holds 2: 0.73 of the argon2 ceiling, against 0.87 with 2
    in flight (docs/performance.md). A pool of cores / workers threads per worker fixed that but
    serialised a worker's logins whenever the kernel's SO_REUSEPORT hash gave it both of two
    clients while the other core idled (login p50 30 ms instead of 21). The shared permits keep
    both: any worker may hash on any free core, and never more hashes than cores."""

    def __init__(self, slots: Slots | None = None) -> None:
        self._threads = ThreadPoolExecutor(
            os.cpu_count() or 2, thread_name_prefix="acctkit-hash", initializer=_lower_priority
        )
        self._slots = slots

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        if self._slots is None:
            return self._threads.submit(fn, *args, **kwargs)
        return self._threads.submit(self._in_slot, fn, args, kwargs)

    def _in_slot(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        with self._slots:  # type: ignore[union-attr]
            return fn(*args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._threads.shutdown(wait, cancel_futures=cancel_futures)


CALLERS_PER_CORE = 4
"""Threads per core that run password-hashing service calls (a login's reads and writes) and wait
while argon2 runs in the low-priority pool."""


def callers_pool(threads: int | None = None) -> ThreadPoolExecutor:
    """The threads that run login, signup and reset calls at normal priority; each waits (GIL
    released) while its hash runs in the HashingPool."""
    return ThreadPoolExecutor(
        threads or CALLERS_PER_CORE * (os.cpu_count() or 2), thread_name_prefix="acctkit-login"
    )
