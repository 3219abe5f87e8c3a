"""`acctkit serve`'s own log, read from its stderr: malformed requests sent over a raw socket are
answered 400 and logged as one line without a traceback, and no path secret reaches the log."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_cli import free_port, run, wait_healthy

FAKE_UID = "Zm9yZ2VkLXJlc2V0LXVpZC1ub3QtYS1yZWFsLW9uZQ"
MALFORMED = {
    "NUL in a header value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\x00b\r\n\r\n",
    "a broken request line carrying a secret path": (
        f"GET /reset-password/{FAKE_UID} HTTP/1.1 trailing-junk\r\nHost: x\r\n\r\n".encode()
    ),
    "a header without a colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
}


def exchange(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"Connection: close" not in chunks[0]:
                break
        return b"".join(chunks)


def test_malformed_requests_get_400_and_one_quiet_line(tmp_path: Path) -> None:
    assert run(["migrate"], tmp_path).returncode == 0
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "acctkit", "serve", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ACCTKIT_SMTP_URL": "smtp://127.0.0.1:9"},
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        for what, raw in MALFORMED.items():
            answer = exchange(port, raw)
            assert answer.split(b" ", 2)[1] == b"400", (what, answer[:200])
        page = exchange(
            port, f"GET /reset-password/{FAKE_UID} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert page.split(b" ", 2)[1] == b"404", page[:200]
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert "Traceback" not in stderr
    assert " ERROR " not in stderr
    refusals = [line for line in stderr.splitlines() if "refused a malformed request" in line]
    assert len(refusals) == len(MALFORMED), stderr
    assert all(" INFO aiohttp.server " in line for line in refusals), refusals
    assert '"GET /reset-password/*** HTTP/1.1" 404' in stderr
    assert FAKE_UID not in stderr
    assert "\x00" not in stderr


def test_the_filter_only_ever_lowers_the_level() -> None:
    from aiohttp.http_exceptions import BadHttpMethod, BadStatusLine

    from server.accesslog import ParserErrorFilter

    def record(level: int, exc: Exception) -> logging.LogRecord:
        return logging.LogRecord(
            "aiohttp.server",
            level,
            __file__,
            1,
            "Error handling request from %s",
            ("10.0.0.1",),
            (type(exc), exc, None),
        )

    loud = record(logging.ERROR, BadStatusLine(f"GET /reset-password/{FAKE_UID} HTTP/1.1 x"))
    quiet = record(logging.DEBUG, BadHttpMethod("\x16\x03\x01"))
    other = record(logging.ERROR, RuntimeError("a real bug"))
    for r in (loud, quiet, other):
        assert ParserErrorFilter().filter(r)
    assert (loud.levelno, loud.exc_info) == (logging.INFO, None)
    assert loud.getMessage() == "refused a malformed request from 10.0.0.1 (BadStatusLine)"
    assert quiet.levelno == logging.DEBUG and quiet.exc_info is None
    assert other.levelno == logging.ERROR and other.exc_info is not None
