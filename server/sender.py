"""The outbox sender: a background task of the server that delivers queued mail.

It runs core's `deliver_due` in its own one-thread executor (SMTP waits must not hold a database
thread), wakes at once when a handler enqueues mail, and polls otherwise, so mail enqueued by
other processes and retries after backoff go out too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from core import outbox
from core.context import Context
from core.outbox import Transport

log = logging.getLogger("acctkit.sender")


class OutboxSender:
    def __init__(self, ctx: Context, transport: Transport, poll_interval: float = 1.0) -> None:
        self.ctx = ctx
        self.transport = transport
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="acctkit-mail")
        self._task: asyncio.Task[None] | None = None
        self.delivered_batches = 0

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Wait for an SMTP send in flight off the loop: the loop may be serving that very SMTP
        # peer (devmail in one process, or a test's server), and blocking it would deadlock.
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            try:
                claimed = await loop.run_in_executor(
                    self._executor, outbox.deliver_due, self.ctx, self.transport
                )
            except Exception:
                log.exception("outbox sender pass failed; retrying after the poll interval")
                claimed = 0
            if claimed:
                self.delivered_batches += 1
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
