"""SMTP ingest speed of devmail, side by side with maildev 3.0.0 when npm is available.

    python bench/devmail_ingest.py [--single N] [--concurrent N] [--connections C]

Each server runs as its own process on loopback ports; one aiosmtplib client process sends
pre-rendered acctkit-style code mails (so rendering is not measured), first N over one
connection, then N spread over C concurrent connections. Every message is checked to be
stored before a number is printed. maildev is installed into bench/out/node_modules (git
ignored) on first use. Counts are bounded and the script stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import aiosmtplib

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
MAILDEV_VERSION = "3.0.0"
MAILDEV_BIN = OUT / "node_modules" / ".bin" / "maildev"
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
WARMUP = 50


@dataclass(frozen=True)
class Result:
    name: str
    single: float  # messages per second, one connection
    concurrent: float  # messages per second, C connections
    stored: int


def render_mails(count: int, tag: str) -> list[bytes]:
    mails = []
    for n in range(count):
        code = f"{n % 1_000_000:06d}"
        message = EmailMessage()
        message["From"] = "acctkit <no-reply@localhost>"
        message["To"] = f"user{n}@example.com"
        message["Subject"] = f"Your acctkit code: {code}"
        message["Date"] = formatdate()
        message["Message-ID"] = make_msgid(domain="bench.devmail")
        message["X-Acctkit-Flow"] = "signup"
        message["X-Acctkit-Ref"] = f"{tag}-{n // 2}"
        message["X-Acctkit-Seq"] = str(1 + n % 2)
        message.set_content(f"Your verification code is {code}. It expires in 10 minutes.\n")
        message.add_alternative(
            f"<p>Your verification code is <strong>{code}</strong>.</p>", subtype="html"
        )
        mails.append(message.as_bytes().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"))
    return mails


async def send_all(port: int, mails: Sequence[bytes], connections: int) -> float:
    """Send every mail, split over `connections`; returns messages per second."""
    chunks = [mails[i::connections] for i in range(connections)]

    async def one(chunk: Sequence[bytes]) -> None:
        async with aiosmtplib.SMTP(hostname=HOST, port=port, timeout=60) as smtp:
            for n, raw in enumerate(chunk):
                await smtp.sendmail("no-reply@localhost", [f"user{n}@example.com"], raw)

    started = time.perf_counter()
    await asyncio.gather(*(one(chunk) for chunk in chunks))
    return len(mails) / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


async def wait_for_port(port: int, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            _, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError(f"nothing listened on {HOST}:{port} within {START_TIMEOUT:g} s")


def http_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


@contextlib.asynccontextmanager
async def running(name: str, argv: list[str], port: int) -> AsyncIterator[None]:
    """Run a server in its own process group (npm shims spawn children); log to bench/out."""
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / f"{name}.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=log, stderr=log, cwd=ROOT, start_new_session=True
        )
        try:
            await wait_for_port(port, process)
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()


async def measure(name: str, port: int, single: int, concurrent: int, connections: int) -> Result:
    await send_all(port, render_mails(WARMUP, f"{name}-warm"), 1)
    single_rate = await send_all(port, render_mails(single, f"{name}-one"), 1)
    concurrent_rate = await send_all(port, render_mails(concurrent, f"{name}-many"), connections)
    return Result(name, single_rate, concurrent_rate, WARMUP + single + concurrent)


async def bench_devmail(args: argparse.Namespace) -> Result:
    smtp_port, http_port = free_port(), free_port()
    argv = [sys.executable, "-m", "devmail", "--host", HOST, "--smtp-port", str(smtp_port)]
    argv += ["--http-port", str(http_port), "--max", "0"]
    async with running("devmail", argv, smtp_port):
        result = await measure("devmail", smtp_port, args.single, args.concurrent, args.connections)
        info = http_json(f"http://{HOST}:{http_port}/api/v1/info")
        stored = info["Messages"] if isinstance(info, dict) else -1
    if stored != result.stored:
        raise RuntimeError(f"devmail stored {stored} of {result.stored} messages")
    return result


def install_maildev() -> str | None:
    """Path to maildev, installing it on first use; None (with a note) when that can't be done."""
    if MAILDEV_BIN.exists():
        return str(MAILDEV_BIN)
    npm = shutil.which("npm")
    if npm is None:
        print("note: npm is not installed, so maildev is not measured")
        return None
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"installing maildev@{MAILDEV_VERSION} into {OUT / 'node_modules'} ...", flush=True)
    command = [npm, "install", "--prefix", str(OUT), f"maildev@{MAILDEV_VERSION}"]
    command += ["--no-audit", "--no-fund", "--loglevel=error"]
    try:
        subprocess.run(command, check=True, timeout=600, stdout=subprocess.DEVNULL)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"note: could not install maildev ({exc}); devmail's numbers alone")
        return None
    return str(MAILDEV_BIN) if MAILDEV_BIN.exists() else None


async def bench_maildev(binary: str, args: argparse.Namespace) -> Result:
    smtp_port, web_port = free_port(), free_port()
    argv = [binary, "--smtp", str(smtp_port), "--web", str(web_port), "--ip", HOST]
    argv += ["--web-ip", HOST, "--silent"]
    async with running("maildev", argv, smtp_port):
        result = await measure("maildev", smtp_port, args.single, args.concurrent, args.connections)
        emails = http_json(f"http://{HOST}:{web_port}/api/email")
        stored = len(emails) if isinstance(emails, list) else -1
    if stored != result.stored:
        raise RuntimeError(f"maildev stored {stored} of {result.stored} messages")
    return result


def report(results: list[Result], args: argparse.Namespace) -> None:
    print()
    print(
        f"SMTP ingest on loopback: {args.single} messages over 1 connection, then "
        f"{args.concurrent} over {args.connections} connections (after {WARMUP} warm-up)"
    )
    c = f"{args.connections} conn msg/s"
    print(f"{'server':<16}{'1 conn msg/s':>16}{c:>18}")
    for r in results:
        print(f"{r.name:<16}{r.single:>16.0f}{r.concurrent:>18.0f}")
    if len(results) == 2:
        ours, theirs = results
        print(
            f"{'devmail/maildev':<16}{ours.single / theirs.single:>15.2f}x"
            f"{ours.concurrent / theirs.concurrent:>17.2f}x"
        )
    print("(one Python aiosmtplib client drives both servers; its own cost caps both rates)")


async def run(args: argparse.Namespace) -> int:
    results = [await bench_devmail(args)]
    maildev = install_maildev()
    if maildev is not None:
        try:
            results.append(await bench_maildev(maildev, args))
        except RuntimeError as exc:
            print(f"note: maildev run failed ({exc}); devmail's numbers alone")
    report(results, args)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single", type=int, default=1000, help="messages over one connection")
    parser.add_argument("--concurrent", type=int, default=2000, help="messages spread over C")
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args(argv)
    if not (0 < args.single <= 100_000 and 0 < args.concurrent <= 100_000):
        parser.error("message counts must be between 1 and 100000")
    if not re.fullmatch(r"\d+", str(args.connections)) or not 0 < args.connections <= 100:
        parser.error("connections must be between 1 and 100")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
