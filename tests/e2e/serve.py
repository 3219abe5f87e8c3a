"""A real `acctkit serve` subprocess on a free port, waited on until /readyz answers: the one way
the e2e tests that need a whole process (signals, several instances) start the service."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp

from tests.e2e.test_cli import free_port


async def start_serve(
    settings: dict[str, str], workdir: Path, *, stderr: int = asyncio.subprocess.DEVNULL
) -> tuple[str, asyncio.subprocess.Process]:
    """Start `acctkit serve` with `settings` over the environment; its base URL and process."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "acctkit", "serve", "--port", str(port)),
        cwd=workdir,
        env={**os.environ, **settings},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr,
    )
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(base + "/readyz") as response:
                    if response.status == 200:
                        return base, proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    await proc.wait()
    raise AssertionError("acctkit serve did not become ready")
