"""Logins per second through the real service, against the argon2 ceiling of this machine.

One run, side by side: (1) raw argon2id verifications/s with the contract's parameters on as many
threads as cores, which no login path can beat; (2) POST /api/token/ logins/s through
`acctkit serve` (1 worker, then 2) on SQLite; (3) GET /api/me/ latency alone and during the login
storm, which shows that hashing runs in its own pool and does not starve cheap requests.
Loopback only, bounded counts; it stops by itself.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
from argon2 import PasswordHasher, Type

CORES = os.cpu_count() or 2
LOGINS = 200
CONCURRENCY = 16
PASSWORD = "correct-horse-battery"


def argon2_ceiling(n: int = 120, rounds: int = 3) -> float:
    """Best of a few rounds: a busy neighbour can only make a round slower, never faster."""
    hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.ID)
    digest = hasher.hash(PASSWORD)
    best = 0.0
    with ThreadPoolExecutor(CORES) as pool:
        for _ in range(rounds):
            start = time.perf_counter()
            list(pool.map(lambda _: hasher.verify(digest, PASSWORD), range(n)))
            best = max(best, n / (time.perf_counter() - start))
    return best


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(url + "/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


async def storm(url: str) -> tuple[float, list[float], list[float]]:
    async with aiohttp.ClientSession() as session:
        body = {"username": "bench", "password": PASSWORD}
        async with session.post(url + "/api/token/", json=body) as resp:
            access = (await resp.json())["access"]
        headers = {"Authorization": f"Bearer {access}"}

        async def me_latencies(count: int, pause: float) -> list[float]:
            out = []
            for _ in range(count):
                t = time.perf_counter()
                async with session.get(url + "/api/me/", headers=headers) as resp:
                    assert resp.status == 200
                out.append((time.perf_counter() - t) * 1000)
                await asyncio.sleep(pause)
            return out

        idle = await me_latencies(50, 0.005)
        remaining = LOGINS

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with session.post(url + "/api/token/", json=body) as resp:
                    assert resp.status == 200, await resp.text()

        start = time.perf_counter()
        logins = asyncio.gather(*[worker() for _ in range(CONCURRENCY)])
        busy = await me_latencies(50, 0.02)
        await logins
        rate = LOGINS / (time.perf_counter() - start)
        return rate, idle, busy


def run_service(workdir: Path, workers: int) -> tuple[float, list[float], list[float]]:
    env = {**os.environ, "ACCTKIT_RATELIMIT": "off", "ACCTKIT_SMTP_URL": "smtp://127.0.0.1:9"}
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "acctkit", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(wait_ready(url))
        return asyncio.run(storm(url))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "acctkit", "createuser", "bench", "--email", "b@example.com"],
            cwd=workdir,
            input=PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
        ceiling = argon2_ceiling()
        print(f"machine: {CORES} cores; argon2id t=2 m=19456 p=1")
        print(f"argon2 ceiling ({CORES} threads, raw verify): {ceiling:8.1f} /s   ratio 1.00")
        for workers in (1, 2):
            rate, idle, busy = run_service(workdir, workers)
            print(
                f"logins via HTTP, {workers} worker(s), {CONCURRENCY} clients: {rate:8.1f} /s   "
                f"ratio {rate / ceiling:.2f} of ceiling"
            )
            print(
                f"  GET /api/me/ p50/p95 ms: idle {p(idle, 50):.1f}/{p(idle, 95):.1f}, "
                f"during storm {p(busy, 50):.1f}/{p(busy, 95):.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
