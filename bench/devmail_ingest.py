"""SMTP ingest speed of devmail, side by side with maildev 3.0.0 when npm is available,
and devmail's memory while a long stream of mail passes through a small retention limit.

    python bench/devmail_ingest.py [--json] [--quick] [--single N] [--concurrent N]
                                   [--connections C] [--rss-messages N] [--rss-max M]
                                   [--parsers N]

Each server runs as its own process on loopback ports; one minimal SMTP client process sends
pre-rendered acctkit-style code mails (so rendering is not measured), first N over one
connection, then N spread over C concurrent connections. Every message is checked to be
stored before a number is printed. maildev is installed into bench/out/node_modules (git
ignored) on first use. Counts are bounded and the script stops by itself.

The memory run starts devmail with `--max M`, streams N messages in over C connections and
reads its resident set size (/proc) once retention is full and at the end; the figures and
the ratios are written to bench/results/devmail_ingest.json as well.

With --json the human text goes to stderr and the last line of stdout is one JSON object,
{"devmail": {"single", "concurrent", "cpu_ms"}, "maildev": {...} (absent without npm),
"rss_mb": {"full", "end", "messages"}}, which bench/run.py reads. On the shared 2-core machine
the default run took 32-65 s (load 4-8), well inside its 90 s budget; --quick 18-30 s. A
first run installs maildev from npm, which takes longer once.
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
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "results"
HAS_PROC = Path("/proc/self/status").exists()
MAILDEV_VERSION = "3.0.0"
MAILDEV_BIN = OUT / "node_modules" / ".bin" / "maildev"
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
WARMUP = 50
HUMAN: list[TextIO] = [sys.stdout]


def say(*parts: object) -> None:
    """Human text: stdout, or stderr with --json (whose stdout ends in one JSON line)."""
    print(*parts, file=HUMAN[0], flush=True)


@dataclass(frozen=True)
class Memory:
    retention: int
    messages: int
    samples: list[tuple[int, float]]  # (messages sent, RSS in MB)

    @property
    def growth(self) -> float:
        """End RSS over the RSS once retention was full (the first sample)."""
        return self.samples[-1][1] / self.samples[0][1]


@dataclass(frozen=True)
class Result:
    name: str
    single: float  # messages per second, one connection
    concurrent: float  # messages per second, C connections
    stored: int
    # The server's own CPU time (user + system) per message: on a shared, loaded machine the
    # rates move with everyone else's load, this much less.
    cpu_ms: float = 0.0
    # The bench client's own CPU per message (this process): it shares the machine's cores with
    # the server, so the server's rate can only grow into what the client leaves.
    client_cpu_ms: float = 0.0


def _template() -> bytes:
    """One acctkit-style code mail with %-placeholders, rendered once by the stdlib.

    Filling it in per message costs microseconds, so even the 60,000-message memory run spends
    its client CPU on SMTP, not on building mail (EmailMessage costs about as much per message
    as the servers being measured).
    """
    message = EmailMessage()
    message["From"] = "acctkit <no-reply@localhost>"
    message["To"] = "user@example.com"
    message["Subject"] = "Your acctkit code: 000000"
    message["Date"] = formatdate()
    message["Message-ID"] = "<mid@bench.devmail>"
    message["X-Acctkit-Flow"] = "signup"
    message["X-Acctkit-Ref"] = "ref"
    message["X-Acctkit-Seq"] = "1"
    message.set_content("Your verification code is 000000. It expires in 10 minutes.\n")
    message.add_alternative(
        "<p>Your verification code is <strong>000000</strong>.</p>", subtype="html"
    )
    raw = message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    raw = raw.replace(b"%", b"%%").replace(b"000000", b"%(code)s")
    raw = raw.replace(b"user@example.com", b"%(to)s").replace(b"<mid@", b"<%(mid)s@")
    return raw.replace(b"Ref: ref", b"Ref: %(ref)s").replace(b"Seq: 1", b"Seq: %(seq)d")


TEMPLATE = _template()


def render_mails(count: int, tag: str) -> list[bytes]:
    """Distinct mails (addresses, codes, Message-IDs, refs), each ready to go after DATA."""
    prefix = f"{tag}-{time.time_ns()}".encode()
    mails = []
    for n in range(count):
        raw = TEMPLATE % {
            b"code": b"%06d" % (n % 1_000_000),
            b"to": b"user%d@example.com" % n,
            b"mid": b"%s.%d" % (prefix, n),
            b"ref": b"%s-%d" % (tag.encode(), n // 2),
            b"seq": 1 + n % 2,
        }
        # Dot-stuffed (RFC 5321 4.5.2) and ending in CRLF, ready to go after DATA.
        mails.append(raw.replace(b"\r\n.", b"\r\n.."))
    return mails


class SmtpReplyError(RuntimeError):
    pass


async def _reply(reader: asyncio.StreamReader, expected: bytes) -> bytes:
    """Read one (possibly multi-line) SMTP reply, check its code, return all its lines."""
    lines = b""
    while True:
        line = await reader.readline()
        if not line:
            raise SmtpReplyError(f"connection closed while waiting for {expected.decode()}")
        lines += line
        if line[3:4] != b"-":
            break
    if not line.startswith(expected):
        raise SmtpReplyError(f"expected {expected.decode()}, got {line!r}")
    return lines


async def _session(port: int, chunk: Sequence[bytes]) -> None:
    """One plain SMTP session; pipelined (RFC 2920) when the server offers PIPELINING.

    Deliberately minimal, so the client's own cost stays small next to the servers': a full
    client such as aiosmtplib costs as much CPU per message as the server being measured, and
    on two cores that hid most of the difference between the servers. When pipelining, each
    message's content goes in one write with the next message's MAIL, RCPT and DATA (RFC 2920
    3.1 lets the content start a group), so a message costs one round trip instead of four.
    """
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        await _reply(reader, b"220")
        writer.write(b"EHLO bench.localhost\r\n")
        pipelining = b"PIPELINING" in (await _reply(reader, b"250")).upper()
        if pipelining:
            envelope = b"MAIL FROM:<no-reply@localhost>\r\nRCPT TO:<user%d@example.com>\r\nDATA\r\n"
            writer.write(envelope % 0)
            for n, raw in enumerate(chunk):
                await _reply(reader, b"250")
                await _reply(reader, b"250")
                await _reply(reader, b"354")
                last = n + 1 == len(chunk)
                writer.write(raw + b".\r\n" + (b"QUIT\r\n" if last else envelope % (n + 1)))
                await _reply(reader, b"250")
        else:
            for n, raw in enumerate(chunk):
                writer.write(b"MAIL FROM:<no-reply@localhost>\r\n")
                await _reply(reader, b"250")
                writer.write(b"RCPT TO:<user%d@example.com>\r\n" % n)
                await _reply(reader, b"250")
                writer.write(b"DATA\r\n")
                await _reply(reader, b"354")
                writer.write(raw + b".\r\n")
                await _reply(reader, b"250")
            writer.write(b"QUIT\r\n")
        await _reply(reader, b"221")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def send_all(port: int, mails: Sequence[bytes], connections: int) -> float:
    """Send every mail, split over `connections`; returns messages per second."""
    chunks = [mails[i::connections] for i in range(connections)]
    started = time.perf_counter()
    await asyncio.gather(*(_session(port, chunk) for chunk in chunks))
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
async def running(name: str, argv: list[str], port: int) -> AsyncIterator[int]:
    """Run a server in its own process group (npm shims spawn children); log to bench/out."""
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / f"{name}.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=log, stderr=log, cwd=ROOT, start_new_session=True
        )
        try:
            await wait_for_port(port, process)
            yield process.pid
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()


def process_tree(pid: int) -> list[int]:
    """`pid` and its live descendants: devmail's parser processes count as devmail."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in task.read_text().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its children so far (0 without /proc)."""
    if not HAS_PROC:
        return 0.0
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def measure(name: str, port: int, pid: int, args: argparse.Namespace) -> Result:
    single, concurrent, connections = args.single, args.concurrent, args.connections
    await send_all(port, render_mails(WARMUP, f"{name}-warm"), 1)
    one, many = render_mails(single, f"{name}-one"), render_mails(concurrent, f"{name}-many")
    cpu_before, client_before = cpu_seconds(pid), time.process_time()
    single_rate = await send_all(port, one, 1)
    concurrent_rate = await send_all(port, many, connections)
    cpu_ms = (cpu_seconds(pid) - cpu_before) / (single + concurrent) * 1000
    client_ms = (time.process_time() - client_before) / (single + concurrent) * 1000
    stored = WARMUP + single + concurrent
    return Result(name, single_rate, concurrent_rate, stored, cpu_ms, client_ms)


def devmail_argv(
    smtp_port: int, http_port: int, retention: int, args: argparse.Namespace
) -> list[str]:
    argv = [sys.executable, "-m", "devmail", "--host", HOST, "--smtp-port", str(smtp_port)]
    argv += ["--http-port", str(http_port), "--max", str(retention)]
    if args.parsers is not None:
        argv += ["--parsers", str(args.parsers)]
    return argv


async def bench_devmail(args: argparse.Namespace) -> Result:
    smtp_port, http_port = free_port(), free_port()
    argv = devmail_argv(smtp_port, http_port, 0, args)
    async with running("devmail", argv, smtp_port) as pid:
        result = await measure("devmail", smtp_port, pid, args)
        info = http_json(f"http://{HOST}:{http_port}/api/v1/info")
        stored = info["Messages"] if isinstance(info, dict) else -1
    if stored != result.stored:
        raise RuntimeError(f"devmail stored {stored} of {result.stored} messages")
    return result


def rss_mb(pid: int) -> float:
    """Resident set of a process and its children, in MB."""
    kib = 0
    for member in process_tree(pid):
        status = Path(f"/proc/{member}/status").read_text()
        kib += int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))  # type: ignore[union-attr]
    return kib / 1024


async def bench_memory(args: argparse.Namespace) -> Memory | None:
    """RSS of devmail while args.rss_messages stream through --max args.rss_max."""
    smtp_port, http_port = free_port(), free_port()
    argv = devmail_argv(smtp_port, http_port, args.rss_max, args)
    samples: list[tuple[int, float]] = []
    async with running("devmail-rss", argv, smtp_port) as pid:
        sent = 0
        # Fill retention twice over first, so caches and the allocator have settled.
        checkpoints = sorted({2 * args.rss_max, *range(10_000, args.rss_messages + 1, 10_000)})
        checkpoints = [c for c in checkpoints if c <= args.rss_messages] or [args.rss_messages]
        if checkpoints[-1] != args.rss_messages:
            checkpoints.append(args.rss_messages)
        for checkpoint in checkpoints:
            while sent < checkpoint:
                # Every message is new (IDs, addresses, codes), as in real use.
                chunk = render_mails(min(2_000, checkpoint - sent), f"rss{sent}")
                await send_all(smtp_port, chunk, args.connections)
                sent += len(chunk)
            samples.append((sent, rss_mb(pid)))
        info = http_json(f"http://{HOST}:{http_port}/api/v1/info")
    if not isinstance(info, dict) or info["Messages"] != args.rss_max:
        raise RuntimeError(f"devmail kept {info} messages, expected {args.rss_max}")
    if info["Evicted"] != args.rss_messages - args.rss_max:
        raise RuntimeError(f"devmail evicted {info['Evicted']}")
    return Memory(args.rss_max, args.rss_messages, samples)


def install_maildev() -> str | None:
    """Path to maildev, installing it on first use; None (with a note) when that can't be done."""
    if MAILDEV_BIN.exists():
        return str(MAILDEV_BIN)
    npm = shutil.which("npm")
    if npm is None:
        say("note: npm is not installed, so maildev is not measured")
        return None
    OUT.mkdir(parents=True, exist_ok=True)
    say(f"installing maildev@{MAILDEV_VERSION} into {OUT / 'node_modules'} ...")
    command = [npm, "install", "--prefix", str(OUT), f"maildev@{MAILDEV_VERSION}"]
    command += ["--no-audit", "--no-fund", "--loglevel=error"]
    try:
        subprocess.run(command, check=True, timeout=600, stdout=subprocess.DEVNULL)
    except (subprocess.SubprocessError, OSError) as exc:
        say(f"note: could not install maildev ({exc}); devmail's numbers alone")
        return None
    return str(MAILDEV_BIN) if MAILDEV_BIN.exists() else None


async def bench_maildev(binary: str, args: argparse.Namespace) -> Result:
    smtp_port, web_port = free_port(), free_port()
    argv = [binary, "--smtp", str(smtp_port), "--web", str(web_port), "--ip", HOST]
    argv += ["--web-ip", HOST, "--silent"]
    async with running("maildev", argv, smtp_port) as pid:
        result = await measure("maildev", smtp_port, pid, args)
        emails = http_json(f"http://{HOST}:{web_port}/api/email")
        stored = len(emails) if isinstance(emails, list) else -1
    if stored != result.stored:
        raise RuntimeError(f"maildev stored {stored} of {result.stored} messages")
    return result


def report_memory(memory: Memory) -> None:
    say()
    say(f"devmail memory, --max {memory.retention}, {memory.messages} messages streamed in:")
    for sent, mb in memory.samples:
        say(f"  after {sent:>7} messages  RSS {mb:7.1f} MB")
    say(f"  end / retention full: {memory.growth:.3f}x (target: within 1.10x)")


def write_json(results: list[Result], memory: Memory | None, args: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    document: dict[str, object] = {
        "single_count": args.single,
        "concurrent_count": args.concurrent,
        "connections": args.connections,
        "servers": {
            r.name: {
                "single": r.single,
                "concurrent": r.concurrent,
                "cpu_ms": r.cpu_ms,
                "client_cpu_ms": r.client_cpu_ms,
            }
            for r in results
        },
    }
    if len(results) == 2:
        ours, theirs = results
        document["ratio_single"] = ours.single / theirs.single
        document["ratio_concurrent"] = ours.concurrent / theirs.concurrent
    if memory is not None:
        document["memory"] = {
            "max": memory.retention,
            "messages": memory.messages,
            "rss_mb": memory.samples,
            "growth": memory.growth,
        }
    path = RESULTS / "devmail_ingest.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    say(f"written to {path.relative_to(ROOT)}")


def report(results: list[Result], args: argparse.Namespace) -> None:
    say()
    say(
        f"SMTP ingest on loopback: {args.single} messages over 1 connection, then "
        f"{args.concurrent} over {args.connections} connections (after {WARMUP} warm-up)"
    )
    c = f"{args.connections} conn msg/s"
    say(f"{'server':<16}{'1 conn msg/s':>16}{c:>18}{'CPU ms/msg':>14}{'client ms/msg':>15}")
    for r in results:
        say(
            f"{r.name:<16}{r.single:>16.0f}{r.concurrent:>18.0f}{r.cpu_ms:>14.2f}"
            f"{r.client_cpu_ms:>15.2f}"
        )
    if len(results) == 2:
        ours, theirs = results
        say(
            f"{'devmail/maildev':<16}{ours.single / theirs.single:>15.2f}x"
            f"{ours.concurrent / theirs.concurrent:>17.2f}x"
            f"{theirs.cpu_ms / ours.cpu_ms if ours.cpu_ms else 0:>13.2f}x"
        )
    say("(one minimal Python SMTP client drives both servers, at the CPU per message shown;")
    say(" the ratio under CPU is maildev's CPU per message over devmail's: above 1, devmail is")
    say(" cheaper)")


async def run(args: argparse.Namespace) -> int:
    results = [await bench_devmail(args)]
    maildev = install_maildev()
    if maildev is not None:
        try:
            results.append(await bench_maildev(maildev, args))
        except RuntimeError as exc:
            say(f"note: maildev run failed ({exc}); devmail's numbers alone")
    report(results, args)
    memory = None
    if args.rss_messages and not HAS_PROC:
        say("note: no /proc here, so devmail's memory is not measured")
    elif args.rss_messages:
        memory = await bench_memory(args)
    if memory is not None:
        report_memory(memory)
    write_json(results, memory, args)
    if args.json:
        print(json.dumps(summary(results, memory)))
    return 0


def summary(results: list[Result], memory: Memory | None) -> dict[str, object]:
    """The one line bench/run.py reads."""
    document: dict[str, object] = {
        r.name: {
            "single": r.single,
            "concurrent": r.concurrent,
            "cpu_ms": r.cpu_ms,
            "client_cpu_ms": r.client_cpu_ms,
        }
        for r in results
    }
    if memory is not None:
        document["rss_mb"] = {
            "full": memory.samples[0][1],
            "end": memory.samples[-1][1],
            "messages": memory.messages,
        }
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single", type=int, default=1000, help="messages over one connection")
    parser.add_argument("--concurrent", type=int, default=2000, help="messages spread over C")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument(
        "--rss-messages", type=int, default=60_000, help="messages for the memory run, 0: none"
    )
    parser.add_argument("--rss-max", type=int, default=1000, help="devmail's --max for it")
    parser.add_argument(
        "--parsers", type=int, help="devmail's --parsers (default: its own, one per core but one)"
    )
    parser.add_argument(
        "--json", action="store_true", help="human text to stderr, one JSON line last on stdout"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller counts (about 20 s): 300, 600, 10,000"
    )
    args = parser.parse_args(argv)
    if args.quick:
        defaults = {"single": 1000, "concurrent": 2000, "rss_messages": 60_000}
        for name, quick in (("single", 300), ("concurrent", 600), ("rss_messages", 10_000)):
            if getattr(args, name) == defaults[name]:
                setattr(args, name, quick)
    if args.json:
        HUMAN[0] = sys.stderr
    if args.rss_messages and not (0 < args.rss_max < args.rss_messages <= 200_000):
        parser.error("--rss-messages must be 0 to 200000 and above --rss-max")
    if not (0 < args.single <= 100_000 and 0 < args.concurrent <= 100_000):
        parser.error("message counts must be between 1 and 100000")
    if not re.fullmatch(r"\d+", str(args.connections)) or not 0 < args.connections <= 100:
        parser.error("connections must be between 1 and 100")
    with asyncio.Runner(loop_factory=_client_loop()) as runner:
        return runner.run(run(args))


def _client_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop for the client too where installed: the less it costs, the more of the machine the
    servers get (0.03 ms of CPU per message with it)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    sys.exit(main())
