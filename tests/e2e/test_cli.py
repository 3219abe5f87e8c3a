"""The `acctkit` command as an operator runs it: migrate, createuser, serve (1 and 2 workers)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from core.schema import CURRENT_VERSION


def run(args: list[str], cwd: Path, stdin: str = "", env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "acctkit", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError("server did not become ready")


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_migrate_makes_database_and_private_dev_secret(tmp_path: Path) -> None:
    result = run(["migrate"], tmp_path, env={"ACCTKIT_SECRET_KEY": ""})
    assert result.returncode == 0, result.stderr
    assert f"schema at version {CURRENT_VERSION}" in result.stdout
    assert (tmp_path / ".acctkit" / "acctkit.db").exists()
    assert oct((tmp_path / ".acctkit" / "secret").stat().st_mode & 0o777) == "0o600"
    assert "ACCTKIT_SECRET_KEY is not set" in result.stderr
    assert run(["migrate"], tmp_path).returncode == 0  # idempotent


def test_createuser_reads_the_password_from_stdin(tmp_path: Path) -> None:
    ok = run(
        ["createuser", "root", "--email", "root@example.com"],
        tmp_path,
        stdin="correct-horse-battery\n",
    )
    assert ok.returncode == 0, ok.stderr
    assert "created user 1 root" in ok.stdout
    weak = run(["createuser", "bob", "--email", "bob@example.com"], tmp_path, stdin="password\n")
    assert weak.returncode == 1 and "too common" in weak.stderr
    again = run(
        ["createuser", "ROOT", "--email", "x@example.com"],
        tmp_path,
        stdin="correct-horse-battery\n",
    )
    assert again.returncode == 1 and "username_taken" in again.stderr


def test_purge_deletes_ended_records_and_says_what(tmp_path: Path) -> None:
    """`acctkit purge` (SimpleJWT's flushexpiredtokens, for a database no service runs on)."""
    assert run(["createuser", "root", "--email", "r@example.com"], tmp_path, "correct-horse-9\n")
    database = tmp_path / ".acctkit" / "acctkit.db"
    old = 1_000_000_000_000_000  # 2001, in the schema's microseconds
    with sqlite3.connect(database) as conn:
        conn.execute(
            "INSERT INTO login (id, user_id, created_at, last_used_at) VALUES ('l', 1, ?, ?)",
            (old, old),
        )
        conn.execute(
            "INSERT INTO refresh_token (jti, user_id, family, created_at, expires_at)"
            " VALUES ('t', 1, 'l', ?, ?)",
            (old, old),
        )
    done = run(["purge"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "deleted 0 finished mail, and records: 1 refresh tokens, 1 logins"
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM login").fetchone() == (0,)
    again = run(["purge"], tmp_path)
    assert again.stdout.strip() == "deleted 0 finished mail, and records: nothing"


def test_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    result = run(["migrate"], tmp_path, env={"ACCTKIT_ENV": "production", "ACCTKIT_SECRET_KEY": ""})
    assert result.returncode != 0 and "production" in result.stderr
    assert not (tmp_path / ".acctkit" / "secret").exists()


def test_production_refuses_public_key_tokens_without_key_files(tmp_path: Path) -> None:
    env = {"ACCTKIT_ENV": "production", "ACCTKIT_SECRET_KEY": "s" * 40, "ACCTKIT_JWT_ALG": "EdDSA"}
    result = run(["migrate"], tmp_path, env={**env, "ACCTKIT_JWT_PRIVATE_KEYS": ""})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "ACCTKIT_JWT_PRIVATE_KEYS" in result.stderr and "openssl genpkey" in result.stderr
    result = run(["migrate"], tmp_path, env={**env, "ACCTKIT_JWT_PRIVATE_KEYS": "missing.pem"})
    assert result.returncode == 2 and "cannot read JWT key missing.pem" in result.stderr


def assert_server_header_names_no_framework(port: int) -> None:
    """Over a raw socket: a parsed request and one aiohttp's parser refuses before any app."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
        assert resp.headers["Server"] == "acctkit"
    for garbage in (b"NOT HTTP\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(garbage)
            raw = s.recv(65536).decode("latin-1")
        assert raw.split("\r\n", 1)[0].endswith(" 400 Bad Request"), raw[:200]
        assert "aiohttp" not in raw.lower() and "python/" not in raw.lower(), raw[:400]


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_and_logs_in(tmp_path: Path, workers: int) -> None:
    assert (
        run(
            ["createuser", "root", "--email", "root@example.com"],
            tmp_path,
            stdin="correct-horse-battery\n",
        ).returncode
        == 0
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "acctkit", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ACCTKIT_SMTP_URL": "smtp://127.0.0.1:9"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        for _ in range(4):  # with two workers, the kernel spreads these over both
            status, body = post(
                url + "/api/token/", {"username": "root", "password": "correct-horse-battery"}
            )
            assert status == 200 and set(body) == {"access", "refresh"}
        assert_server_header_names_no_framework(port)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode in (0, -15)
