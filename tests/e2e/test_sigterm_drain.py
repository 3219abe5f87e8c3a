"""SIGTERM drains a real `acctkit serve`: requests in flight finish, the mail of every
acknowledged request goes out, and the process exits 0."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp

from tests.conftest import Inbox
from tests.e2e.serve import start_serve

REQUESTS = 24


async def _serve(
    sqlite_url: str, smtp_url: str, workdir: Path
) -> tuple[str, asyncio.subprocess.Process]:
    settings = {
        "ACCTKIT_DATABASE_URL": sqlite_url,
        "ACCTKIT_SMTP_URL": smtp_url,
        "ACCTKIT_SECRET_KEY": "drain-secret-" + "d" * 30,
        # Costly enough hashing that the requests are still running when SIGTERM arrives.
        "ACCTKIT_ARGON2_TIME_COST": "3",
        "ACCTKIT_ARGON2_MEMORY_KIB": "32768",
        "ACCTKIT_RATELIMIT": "off",
    }
    return await start_serve(settings, workdir, stderr=asyncio.subprocess.PIPE)


async def test_sigterm_finishes_requests_and_their_mail_then_exits_0(
    sqlite_url: str, inbox: Inbox, tmp_path: Path
) -> None:
    base, proc = await _serve(sqlite_url, inbox.url, tmp_path)
    answers: list[tuple[float, int, str]] = []  # (when, status, signup id)
    failures: list[str] = []

    async def sign_up(http: aiohttp.ClientSession, i: int) -> None:
        body = {
            "first_name": "D",
            "last_name": "R",
            "username": f"drain{i}",
            "email": f"drain{i}@example.com",
            "password": "rabbit-hole-2026",
        }
        try:
            async with http.post(base + "/api/auth/signup/", json=body) as response:
                data = await response.json()
                answers.append((time.monotonic(), response.status, data.get("signup_id", "")))
        except aiohttp.ClientError as exc:  # not acknowledged: allowed, but counted
            failures.append(repr(exc))

    connector = aiohttp.TCPConnector(limit=REQUESTS)
    async with aiohttp.ClientSession(connector=connector) as http:
        requests = [asyncio.create_task(sign_up(http, i)) for i in range(REQUESTS)]
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        terminated = time.monotonic()
        await asyncio.gather(*requests)
    code = await asyncio.wait_for(proc.wait(), 45)
    stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
    assert code == 0, stderr[-3000:]
    assert time.monotonic() - terminated < 45

    assert all(status == 202 for _, status, _ in answers), answers
    finished_after_sigterm = [a for a in answers if a[0] > terminated]
    assert finished_after_sigterm, "no request was in flight at SIGTERM: the test proved nothing"
    assert len(answers) + len(failures) == REQUESTS
    refs = {ref for _, _, ref in answers}
    delivered = {str(m["X-Acctkit-Ref"]) for m in inbox.messages}
    assert refs <= delivered, f"acknowledged but not mailed: {refs - delivered}"
    assert len(inbox.messages) == len(delivered)  # each mail once
