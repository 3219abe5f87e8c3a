"""The password-hashing thread pool, and how it shares the CPU with the event loop.

argon2 releases the GIL, so hashing threads compete with the event loop for cores, not for the
interpreter. Under a login storm a plain pool (as many threads as cores, in every worker process)
keeps every core busy hashing, and the kernel gives the event loop thread only its fair share: cheap
requests like GET /api/me/ queue behind hashes (p99 2-3x its value alone).

Each hashing thread therefore lowers its own scheduling priority (Linux `setpriority` on the
thread's id; niceness is per thread there). The kernel's CFS weights a nice-10 thread about
10x less than a nice-0 one, so whenever an event loop has work it runs at once, and the hashing
threads take all the CPU that is left: no core idles during a storm, so logins keep almost all of
the argon2 ceiling. We measured the alternatives (docs/performance.md): a pool of cores/workers
threads at normal priority left cores idle between hashes and still let hashing share cores with
the loop; a bounded admission queue caps throughput without fixing the loop's share. Where
per-thread priority is not available (not Linux), the threads keep the normal priority.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

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


def hashing_pool(threads: int | None = None) -> ThreadPoolExecutor:
    """As many threads as cores (hashing may use every idle core), each at a lower priority."""
    return ThreadPoolExecutor(
        threads or os.cpu_count() or 2,
        thread_name_prefix="acctkit-hash",
        initializer=_lower_priority,
    )
