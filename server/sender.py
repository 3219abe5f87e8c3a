"""The outbox sender: a background task of the server that delivers queued mail.

It runs core's `deliver_due` off the loop (SMTP waits must not hold a database thread), wakes at
once when a handler enqueues mail, and polls otherwise, so mail enqueued by other processes and
retries after backoff go out too. While a send is in progress it renews its leases, so only a dead
sender's mail is taken over.

It keeps one opinion about the SMTP server (up, down, not known yet) and logs only when that
changes. While SMTP is down it probes it every `probe_interval` seconds; when the probe (or any
send) succeeds again it wakes every waiting mail, so the backlog goes out at once, oldest first,
instead of each mail waiting out its own backoff.

When idle it also deletes finished mail past the retention (`outbox.purge`) and the account
records that have ended (`retention.purge`), at start and then every `purge_interval` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from core import errors, outbox, retention
from core.context import Context
from core.outbox import DeliveryPass, Transport
from core.redaction import reply
from server.metrics import Metrics

log = logging.getLogger("acctkit.sender")

DRAIN_SECONDS = 10.0
PURGE_INTERVAL = 3600.0


class OutboxSender:
    def __init__(
        self,
        ctx: Context,
        transport: Transport,
        poll_interval: float = 1.0,
        *,
        probe_interval: float = 1.0,
        lease: float = outbox.LEASE_SECONDS,
        metrics: Metrics | None = None,
        purge_interval: float = PURGE_INTERVAL,
    ) -> None:
        self.ctx = ctx
        self.transport = transport
        self.poll_interval = poll_interval
        self.probe_interval = probe_interval
        self.lease = lease
        self.purge_interval = purge_interval
        self._next_purge = 0.0  # at the first idle moment, then every purge_interval
        self.metrics = metrics or Metrics()
        self.id = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.smtp_up: bool | None = None  # None: not known yet
        self._down_since = 0.0
        self._last_probe = 0.0
        self._wake = asyncio.Event()
        self._stopping = False
        # One thread sends; the other renews leases, probes and wakes meanwhile.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="acctkit-mail")
        self._task: asyncio.Task[None] | None = None
        self.delivered_batches = 0

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-sender")

    async def stop(self, drain: float = DRAIN_SECONDS) -> None:
        """Finish the mail being sent and what is due now, for at most `drain` seconds."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), drain)
            except TimeoutError:
                log.warning("outbox sender still busy after %.0f s; its leases will lapse", drain)
                self._task.cancel()
        # Wait for an SMTP send in flight off the loop: the loop may be serving that very SMTP
        # peer (devmail in one process, or a test's server), and blocking it would deadlock.
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    async def _in_thread(self, fn, *args):  # type: ignore[no-untyped-def]
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _deliver(self) -> DeliveryPass:
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(
            self._executor,
            lambda: outbox.deliver_due(self.ctx, self.transport, sender=self.id, lease=self.lease),
        )
        while True:
            done, _ = await asyncio.wait({work}, timeout=self.lease / 3)
            if done:
                return work.result()
            await self._in_thread(outbox.renew, self.ctx, self.id, self.lease)

    async def _run(self) -> None:
        while True:
            # Only a pass that begins after stop() was asked may end the drain. A pass already
            # looking when it was asked can miss a row committed meanwhile (the last request
            # answered 202 while its mail stayed queued; seen once in a loaded CI run).
            stopping = self._stopping
            self._wake.clear()
            try:
                done = await self._deliver()
                self._observe(done)
            except errors.DatabaseUnavailable:  # an outage: core.db has said why, in one line
                log.warning("outbox sender: database unavailable; retrying after the poll interval")
                done = DeliveryPass()
            except Exception:
                log.exception("outbox sender pass failed; retrying after the poll interval")
                done = DeliveryPass()
            if done.claimed and done.sent and self.smtp_up is not True:
                await self._came_back("a send succeeded")
            if done.claimed and not done.unreachable:
                self.delivered_batches += 1
                continue
            if stopping:
                return
            await self._purge_if_due()
            if self.smtp_up is not True and await self._probe():
                continue
            interval = (
                self.poll_interval if self.smtp_up else min(self.poll_interval, self.probe_interval)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    async def _purge_if_due(self) -> None:
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + self.purge_interval
        try:
            deleted = await self._in_thread(outbox.purge, self.ctx)
        except Exception:
            log.exception("outbox purge failed; trying again in %.0f s", self.purge_interval)
        else:
            if deleted:
                kept = self.ctx.settings.outbox_retention
                log.info("outbox: deleted %s finished mail older than %s s", deleted, kept)
        try:
            purged = await self._in_thread(retention.purge, self.ctx)
        except Exception:
            log.exception("record purge failed; trying again in %.0f s", self.purge_interval)
            return
        if purged.total:
            kept = self.ctx.settings.record_retention
            log.info("deleted records ended over %s s ago: %s", kept, purged)

    def _observe(self, done: DeliveryPass) -> None:
        for mail, result in done.outcomes:
            self.metrics.mail_outcome(mail.flow, result.error is None)
            if result.error is not None and not result.unreachable and mail.attempts == 1:
                error = reply(self.ctx.settings, result.error)
                log.warning("mail %s refused by SMTP: %s", mail.id, error)
        for flow in done.expired:
            self.metrics.mail_expired.labels(flow=flow).inc()
        unreachable = done.unreachable
        if unreachable is not None and self.smtp_up is not False:
            self.smtp_up = False
            self._down_since = time.monotonic()
            self._last_probe = self._down_since
            self.metrics.smtp_up.set(0)
            error = reply(self.ctx.settings, unreachable.error or "")
            log.warning("SMTP unreachable: %s; mail waits and is retried", error)

    async def _probe(self) -> bool:
        """While SMTP is down (or not known yet), ask it every probe_interval whether it is back."""
        probe = getattr(self.transport, "probe", None)
        now = time.monotonic()
        if probe is None or now - self._last_probe < self.probe_interval:
            return False
        self._last_probe = now
        try:
            error = await self._in_thread(probe)
        except Exception as exc:  # a probe must never stop the sender
            error = repr(exc)
        if error is None:
            await self._came_back("probe answered")
            return True
        if self.smtp_up is None:
            self.smtp_up = False
            self._down_since = now
            self.metrics.smtp_up.set(0)
            error = reply(self.ctx.settings, error)
            log.warning("SMTP unreachable: %s; mail waits and is retried", error)
        return False

    async def _came_back(self, why: str) -> None:
        was_down = self.smtp_up is False
        self.smtp_up = True
        self.metrics.smtp_up.set(1)
        woken = await self._in_thread(outbox.wake_waiting, self.ctx)
        if was_down:
            log.warning(
                "SMTP reachable again after %.0f s (%s); sending %s waiting mail now",
                time.monotonic() - self._down_since,
                why,
                woken,
            )
