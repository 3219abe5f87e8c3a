"""An SMTP outage, for real: a devmail process is stopped while mail queues up, then started again
on the same port. The backlog goes out at once, oldest first, each mail once, and the log says
once that SMTP went away and once that it came back (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core import db, mail, outbox
from core.models import Outbox
from server.app import create_app
from server.keys import CONTEXT
from tests.conftest import make_settings
from tests.e2e.test_cli import free_port

BACKLOG = 100
# How fast the backlog goes is a speed figure (the issue asks for 100 mails within 5 s): printed
# and recorded as `backlog_seconds`. The assertion is a bound with room for a loaded CI machine,
# yet far below the
# alternative: every mail waits out a 900 s backoff (`_long_backoff`), so a sender that did not
# wake the waiting mail on recovery could not deliver a single one within it.
RECOVERY_BOUND = 20.0


class DevmailProcess:
    """`acctkit devmail` as a child process on fixed ports, so it can go away and come back."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.smtp_port = free_port()
        self.http_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "acctkit", "devmail"),
                *("--smtp-port", str(self.smtp_port), "--http-port", str(self.http_port)),
            ],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def ready(self) -> None:
        deadline = time.monotonic() + 60  # a cold interpreter start on two busy cores
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                try:
                    async with http.get(self.api + "/livez") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("devmail did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    async def messages(self) -> list[dict[str, Any]]:
        url = self.api + "/api/v1/messages"
        async with aiohttp.ClientSession() as http, http.get(url, params={"limit": "1000"}) as r:
            return (await r.json())["messages"]


@pytest.fixture
def devmail_process(tmp_path: Path) -> Iterator[DevmailProcess]:
    process = DevmailProcess(tmp_path)
    yield process
    process.stop()


def _queue(ctx: Any, n: int) -> None:
    with db.connection(), db.write_transaction():
        for i in range(n):
            outbox.enqueue(
                ctx,
                mail.notice_mail(
                    to=f"u{i}@example.com",
                    name="U",
                    subject=f"notice {i}",
                    lines=["x"],
                    flow="password-changed",
                    ref=f"r{i:03d}",
                ),
            )


def _states() -> dict[str, int]:
    with db.connection():
        rows = Outbox.select(Outbox.status, Outbox.attempts)
        return {
            "failed_once": sum(1 for r in rows if r.attempts >= 1),
            "sent": sum(1 for r in rows if r.status == "sent"),
        }


def _long_backoff(ctx: Any) -> bool:
    """As after a long outage: every mail waits out a 15-minute backoff. True once all do (a mail
    being retried right now is left to its sender and caught on a later call)."""
    later = ctx.clock.now() + timedelta(seconds=outbox.BACKOFF_CAP_SECONDS)
    with db.connection():
        pending = Outbox.select().where(Outbox.status == "pending")
        Outbox.update(next_try_at=later).where(
            Outbox.status == "pending", Outbox.claimed_by.is_null()
        ).execute()
        waiting = pending.where(Outbox.next_try_at >= later, Outbox.claimed_by.is_null())
        return pending.count() == waiting.count() == BACKLOG


async def _until(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_the_backlog_goes_out_at_once_when_smtp_comes_back(
    aiohttp_client: Any,
    database_url: str,
    devmail_process: DevmailProcess,
    caplog: pytest.LogCaptureFixture,
    record_property: Any,
) -> None:
    caplog.set_level(logging.INFO, logger="acctkit.sender")
    devmail_process.start()
    await devmail_process.ready()
    settings = make_settings(database_url, smtp_url=f"smtp://127.0.0.1:{devmail_process.smtp_port}")
    client = await aiohttp_client(create_app(settings, mail_poll_interval=0.05))
    ctx = client.app[CONTEXT]

    await asyncio.to_thread(_queue, ctx, 1)
    await _until(lambda: _count(devmail_process, 1), 30)  # SMTP works

    devmail_process.stop()
    await asyncio.to_thread(_queue, ctx, BACKLOG)
    await _until(lambda: _failed_once(BACKLOG + 1), 60)
    await _until(lambda: asyncio.to_thread(_long_backoff, ctx), 30)

    devmail_process.start()
    await devmail_process.ready()
    started = time.monotonic()  # SMTP is back
    # A restarted devmail starts empty: it receives the backlog only.
    await _until(lambda: _count(devmail_process, BACKLOG), RECOVERY_BOUND)
    took = time.monotonic() - started
    record_property("backlog_seconds", round(took, 2))
    print(f"backlog of {BACKLOG} went out {took:.2f} s after SMTP came back")
    assert took < RECOVERY_BOUND, f"backlog of {BACKLOG} took {took:.1f} s after SMTP came back"

    messages = await devmail_process.messages()
    refs = [m["Ref"] for m in reversed(messages)]  # the API lists newest first
    assert refs == [f"r{i:03d}" for i in range(BACKLOG)], "not oldest first, or not once"
    said = [r.getMessage() for r in caplog.records if r.name == "acctkit.sender"]
    assert sum("SMTP unreachable" in m for m in said) == 1, said
    assert sum("SMTP reachable again" in m for m in said) == 1, said


async def _count(devmail_process: DevmailProcess, n: int) -> bool:
    return len(await devmail_process.messages()) >= n


async def _failed_once(n: int) -> bool:
    return (await asyncio.to_thread(_states))["failed_once"] >= n
