"""How long does POST /api/auth/password/reset/ take for a known vs an unknown address?

Starts the real app (SQLite file in a temporary directory, the contract's argon2 parameters,
mail delivered over real SMTP to a local sink), then times interleaved requests for both kinds
of address and prints the medians and their ratio: first over HTTP (what a client can measure,
including the response floor), then the core work under that floor (`reset.request` called
directly, in a thread, against the same database). Rate limits are off, or they would answer
429 after a few requests. Not a test: timing is never asserted.

    .venv/bin/python bench/reset_timing.py [requests per kind]
"""

from __future__ import annotations

import asyncio
import random
import secrets
import statistics
import sys
import tempfile
import time

from aiohttp import ClientSession, web
from aiosmtpd.smtp import SMTP

from core import accounts, reset
from core.outbox import pending_count
from core.settings import Settings
from server.app import create_app
from server.keys import CONTEXT

WARMUP = 20


class Sink:
    received = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.received += 1
        return "250 OK"


async def main(per_kind: int) -> None:
    sink = Sink()
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTP(sink, hostname="sink"), "127.0.0.1", 0)
    smtp_port = smtp.sockets[0].getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        defaults = Settings()
        settings = Settings(
            database_url=f"sqlite:///{tmp}/bench.db",
            secret_key=secrets.token_urlsafe(48),
            data_dir=tmp,
            smtp_url=f"smtp://127.0.0.1:{smtp_port}",
            ratelimit=False,
        )
        runner = web.AppRunner(create_app(settings), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        await asyncio.to_thread(
            accounts.create_user,
            runner.app[CONTEXT],
            username="alice",
            email="alice@example.com",
            password="vorpal-blade-snicker",
        )
        url = f"http://127.0.0.1:{port}/api/auth/password/reset/"
        times: dict[str, list[float]] = {"known": [], "unknown": []}
        work: dict[str, list[float]] = {"known": [], "unknown": []}
        ctx = runner.app[CONTEXT]

        def direct(kind: str, n: int) -> float:
            email = "alice@example.com" if kind == "known" else f"direct{n}@example.com"
            start = time.perf_counter()
            reset.request(ctx, email)
            return time.perf_counter() - start

        async with ClientSession() as http:

            async def once(kind: str, n: int) -> float:
                email = "alice@example.com" if kind == "known" else f"nobody{n}@example.com"
                start = time.perf_counter()
                async with http.post(url, json={"email": email}) as resp:
                    await resp.read()
                    assert resp.status == 202, resp.status
                return time.perf_counter() - start

            for n in range(WARMUP):
                await once("known", n)
                await once("unknown", n)
            for n in range(per_kind):
                pair = ["known", "unknown"]
                random.shuffle(pair)  # neither kind always runs right after a mail went out
                for kind in pair:
                    times[kind].append(await once(kind, n))
            for n in range(per_kind):
                pair = ["known", "unknown"]
                random.shuffle(pair)
                for kind in pair:
                    work[kind].append(await asyncio.to_thread(direct, kind, n))
        for _ in range(500):  # let the sender deliver everything before the app stops
            if await asyncio.to_thread(pending_count) == 0:
                break
            await asyncio.sleep(0.02)
        await runner.cleanup()
    smtp.close()
    await smtp.wait_closed()

    print(
        f"POST /api/auth/password/reset/ on SQLite, argon2id t={defaults.argon2_time_cost} "
        f"m={defaults.argon2_memory_kib} KiB p={defaults.argon2_parallelism}, "
        f"{per_kind} interleaved requests per kind, {sink.received} mails delivered"
    )
    print(f"{'':10}{'HTTP median':>12}{'HTTP p90':>10}{'core median':>13}{'core p90':>10}")
    for kind in ("known", "unknown"):
        row = f"{kind:10}"
        http, core_work = times[kind], work[kind]
        row += f"{statistics.median(http) * 1000:>10.2f}ms"
        row += f"{statistics.quantiles(http, n=10)[-1] * 1000:>8.2f}ms"
        row += f"{statistics.median(core_work) * 1000:>11.2f}ms"
        row += f"{statistics.quantiles(core_work, n=10)[-1] * 1000:>8.2f}ms"
        print(row)
    ratio_http = statistics.median(times["known"]) / statistics.median(times["unknown"])
    ratio_core = statistics.median(work["known"]) / statistics.median(work["unknown"])
    print(
        f"ratio known/unknown (medians): HTTP {ratio_http:.3f}, core work {ratio_core:.2f} "
        f"(hidden under the {reset.REQUEST_FLOOR_SECONDS * 1000:.0f} ms response floor)"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
