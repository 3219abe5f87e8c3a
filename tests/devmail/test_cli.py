"""`python -m devmail` as a real process: bound ports announced, mail caught, clean exit."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import signal
import smtplib
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from devmail.__main__ import build_parser, main

from .conftest import eventually, plain_mail

READY = re.compile(rb"SMTP on 127\.0\.0\.1:(\d+), HTTP on http://127\.0\.0\.1:(\d+)")


def _send(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.send_message(plain_mail("cli@example.com", "from the cli test"))


async def test_python_m_devmail_runs_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devmail", "--smtp-port", "0", "--http-port", "0",
        "--db", str(tmp_path / "m.sqlite"), "--max", "5", "--auth",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        ready = READY.search(line)
        assert ready, line
        smtp_port, http_port = int(ready.group(1)), int(ready.group(2))
        await asyncio.to_thread(_send, smtp_port)
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{http_port}/api/v1/message/latest"
            async with session.get(url, params={"query": "to:cli@example.com"}) as response:
                assert response.status == 200
                assert (await response.json())["Subject"] == "from the cli test"
            async with session.get(f"http://127.0.0.1:{http_port}/api/v1/info") as response:
                assert (await response.json())["Retention"] == 5
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_parser_defaults_match_the_contract() -> None:
    args = build_parser().parse_args([])
    assert (args.host, args.smtp_port, args.http_port, args.db) == ("127.0.0.1", 1025, 8025, None)
    assert (args.max, args.auth) == (10_000, False)


@pytest.mark.parametrize(
    "argv", [["--max", "-1"], ["--smtp-port", "70000"], ["--parsers", "-1"], ["--bogus"]]
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2


@pytest.mark.parametrize("flag", ["--smtp-port", "--http-port"])
def test_port_in_use_exits_1(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        other = "--http-port" if flag == "--smtp-port" else "--smtp-port"
        assert main([flag, port, other, "0"]) == 1
    assert "devmail:" in capsys.readouterr().err


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found |= {int(child) for child in task.read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _all_gone(pids: frozenset[int]) -> bool:
    return not any(map(_alive, pids))


async def _started(*flags: str) -> tuple[asyncio.subprocess.Process, int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devmail", "--smtp-port", "0", "--http-port", "0", *flags,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    ready = READY.search(await asyncio.wait_for(process.stdout.readline(), 30))
    assert ready
    return process, int(ready.group(1))


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
async def test_parser_processes_end_with_devmail_even_when_it_is_killed() -> None:
    for stop in (signal.SIGTERM, signal.SIGKILL):
        process, smtp_port = await _started("--parsers", "2")
        try:
            parsers = frozenset(_children(process.pid))
            assert len(parsers) == 2
            await asyncio.to_thread(_send, smtp_port)
            process.send_signal(stop)
            await process.wait()
            # Killed, it cannot stop them: they stop when their stdin closes with it.
            assert await eventually(functools.partial(_all_gone, parsers)), stop
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="reads /proc")
async def test_a_client_that_hangs_up_at_once_leaves_no_socket_open() -> None:
    # A port probe (connect, close) used to leave its socket open for the 5-minute SMTP
    # timeout under uvloop: aiosmtpd cancelled a session task that had not started yet.
    process, smtp_port = await _started("--parsers", "0")
    fds = Path(f"/proc/{process.pid}/fd")

    def open_descriptors() -> int:
        return len(os.listdir(fds))

    try:
        await asyncio.to_thread(_send, smtp_port)
        before = open_descriptors()
        for _ in range(20):
            _, writer = await asyncio.open_connection("127.0.0.1", smtp_port)
            writer.close()
            await writer.wait_closed()
        assert await eventually(lambda: open_descriptors() <= before, 5.0), (
            f"{open_descriptors()} descriptors open, {before} before 20 probes"
        )
    finally:
        process.terminate()
        await process.wait()


async def test_the_access_log_shows_no_search_term(tmp_path: Path) -> None:
    """A search is often for the code or the reset UID itself; `acctkit devmail` logged the
    request line, query and all, to its log (`.acctkit/logs/devmail.log` under `acctkit dev`)."""
    code, uid = "271828", "c2VjcmV0LXJlc2V0LXVpZC1pbi1hLXF1ZXJ5"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "acctkit", "devmail", "--smtp-port", "0", "--http-port", "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stderr is not None
        ready = READY.search(await asyncio.wait_for(process.stdout.readline(), 30))
        assert ready, "devmail did not start"
        base = f"http://127.0.0.1:{int(ready.group(2))}/api/v1"
        async with aiohttp.ClientSession() as session:
            for path, params in [
                ("/search", {"query": f"code:{code}"}),
                ("/messages", {"query": uid, "start": "0"}),
                ("/message/latest", {"query": f"to:a@example.com {code}", "wait": "0"}),
                ("/search", {uid: ""}),
            ]:
                async with session.get(base + path, params=params) as response:
                    await response.read()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        logged = (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert '"GET /api/v1/search?query=*** HTTP/1.1" 200' in logged, logged
    assert '"GET /api/v1/messages?query=***&start=*** HTTP/1.1" 200' in logged, logged
    assert '"GET /api/v1/search?***=*** HTTP/1.1" 200' in logged, logged
    assert code not in logged and uid not in logged, logged
