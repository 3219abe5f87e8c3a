"""Operator mistakes at start: one line saying what is wrong, no traceback, no password, and a
non-zero exit status; never a service that quietly runs somewhere it should not."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_cli import free_port, run, wait_healthy

PASSWORD = "hunter2-database-password"
SECRET = {"ACCTKIT_SECRET_KEY": "s" * 40, "ACCTKIT_SMTP_URL": "smtp://127.0.0.1:9"}


def on_a_free_port(command: list[str]) -> list[str]:
    return [*command, "--port", str(free_port())] if command[0] == "serve" else command


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], status: int) -> str:
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("acctkit: "), result.stderr
    return last


@pytest.mark.parametrize("command", [["migrate"], ["purge"], ["outbox"], ["serve"]])
@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"mysql://root:{PASSWORD}@db/acctkit", "unsupported scheme 'mysql'"),
        (f"postgresql://root:{PASSWORD}@127.0.0.1:notaport/acctkit", "notaport"),
        (f"postgresql://root:{PASSWORD}@127.0.0.1:5432", "names no database"),
        ("sqlite:///", "needs a SQLite file"),
        ("sqlite:///{tmp}/a-file/acctkit.db", "cannot make its directory"),
    ],
)
def test_a_malformed_database_url_is_refused_in_one_line(
    tmp_path: Path, command: list[str], url: str, says: str
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    env = {**SECRET, "ACCTKIT_DATABASE_URL": url.format(tmp=tmp_path)}
    last = assert_one_line_refusal(run(on_a_free_port(command), tmp_path, env=env), 2)
    assert says in last and "ACCTKIT_DATABASE_URL" in last


@pytest.mark.parametrize("command", [["migrate"], ["purge"], ["serve", "--workers", "2"]])
def test_an_unreachable_database_is_named_in_one_line(tmp_path: Path, command: list[str]) -> None:
    url = f"postgresql://root:{PASSWORD}@127.0.0.1:{free_port()}/acctkit"
    last = assert_one_line_refusal(
        run(on_a_free_port(command), tmp_path, env={**SECRET, "ACCTKIT_DATABASE_URL": url}), 1
    )
    assert "cannot use the database postgresql://root:***@127.0.0.1:" in last
    assert "Connection refused" in last


@pytest.mark.postgres
def test_a_database_refusing_the_login_is_named_in_one_line(
    tmp_path: Path, postgres_url: str
) -> None:
    url = postgres_url.replace("postgresql://postgres@", f"postgresql://nobody:{PASSWORD}@")
    result = run(["migrate"], tmp_path, env={**SECRET, "ACCTKIT_DATABASE_URL": url})
    assert 'role "nobody" does not exist' in assert_one_line_refusal(result, 1)


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--workers", "0"], {}, "at least 1 worker"),
        (["--workers", "-1"], {}, "at least 1 worker"),
        (["--port", "70000"], {}, "a port is 1 to 65535"),
        ([], {"ACCTKIT_PORT": "70000"}, "ACCTKIT_PORT must be at most 65535"),
    ],
)
def test_serve_refuses_impossible_workers_and_ports(
    tmp_path: Path, args: list[str], env: dict[str, str], says: str
) -> None:
    result = run(["serve", *args], tmp_path, env={**SECRET, **env})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert says in result.stderr


def test_a_second_serve_on_a_port_in_use_is_refused_naming_the_first(tmp_path: Path) -> None:
    """Workers listen with SO_REUSEPORT, so without the check a second serve (another version,
    another database) started on the same port took half of the first one's requests."""
    port = free_port()
    first = subprocess.Popen(
        [sys.executable, "-m", "acctkit", "serve", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **SECRET},
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", first)
        for host in ("127.0.0.1", "0.0.0.0"):
            second = run(["serve", "--host", host, "--port", str(port)], tmp_path, env=SECRET)
            last = assert_one_line_refusal(second, 1)
            assert f"port {port} on {host} is taken by pid {first.pid}" in last
        assert first.poll() is None
    finally:
        first.terminate()
        first.wait(timeout=30)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_held_by_another_program_is_refused_naming_it(tmp_path: Path, workers: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run(["serve", "--port", str(port), "--workers", workers], tmp_path, env=SECRET)
    last = assert_one_line_refusal(result, 1)
    assert f"port {port} on 127.0.0.1 is taken by pid {os.getpid()}" in last


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_address_not_on_this_host_is_one_line_per_worker(tmp_path: Path, workers: str) -> None:
    result = run(
        ["serve", "--host", "192.0.2.1", "--port", str(free_port()), "--workers", workers],
        tmp_path,
        env=SECRET,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    refusals = [line for line in result.stderr.splitlines() if "cannot listen on 192.0.2.1" in line]
    assert len(refusals) == int(workers), result.stderr


def test_an_unknown_host_name_is_refused_in_one_line(tmp_path: Path) -> None:
    result = run(["serve", "--host", "no-such-host.invalid"], tmp_path, env=SECRET)
    assert "cannot listen on host 'no-such-host.invalid'" in assert_one_line_refusal(result, 1)


@contextlib.contextmanager
def silent_database(command: list[str], tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """`command` against a PostgreSQL URL whose host accepts the connection and never answers
    (a firewall that drops packets, a wedged server), from the moment it is connecting."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"postgresql://root:{PASSWORD}@127.0.0.1:{silent.getsockname()[1]}/acctkit"
        proc = subprocess.Popen(
            [sys.executable, "-m", "acctkit", *command],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **SECRET, "ACCTKIT_DATABASE_URL": url},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            connection, _ = silent.accept()
            with connection:
                yield proc
        finally:
            proc.kill()
            proc.wait()


def test_a_database_that_never_answers_times_out_in_one_line(tmp_path: Path) -> None:
    with silent_database(["migrate"], tmp_path) as proc:
        connecting = time.monotonic()
        _, stderr = proc.communicate(timeout=30)  # libpq's default: wait for ever
        assert time.monotonic() - connecting < 15
    result = subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
    assert "timeout expired" in assert_one_line_refusal(result, 1)


def test_ctrl_c_while_connecting_stops_without_a_traceback(tmp_path: Path) -> None:
    with silent_database(["migrate"], tmp_path) as proc:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
    assert assert_one_line_refusal(result, 130) == "acctkit: interrupted"
