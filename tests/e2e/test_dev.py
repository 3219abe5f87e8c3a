"""`acctkit dev` owns its children: they die with it (even on SIGKILL), a taken port is refused
with its holder named, Ctrl+C stops everything, and the exit status tells a child's failure."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")

READY = re.compile(r"serve pid (\d+), devmail pid (\d+)")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_dev(cwd: Path, ports: list[int]) -> subprocess.Popen[str]:
    api, mail, smtp = (str(p) for p in ports)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "acctkit",
            "dev",
            "--no-tui",
            "--port",
            api,
            "--mail-port",
            mail,
            "--smtp-port",
            smtp,
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ACCTKIT_ARGON2_TIME_COST": "1", "ACCTKIT_ARGON2_MEMORY_KIB": "8"},
    )


def running_dev(cwd: Path) -> tuple[subprocess.Popen[str], int, int]:
    """`acctkit dev` on free ports, and its children's pids. A port is found free here and
    bound by a child later, and parallel tests open ports all the time: a start that lost a
    port in between (once in about eight full runs) is tried again on new ports."""
    for _ in range(3):
        dev = start_dev(cwd, free_ports(3))
        assert dev.stdout is not None and dev.stderr is not None
        found = READY.search(dev.stdout.readline())
        if found:
            return dev, int(found.group(1)), int(found.group(2))
        err = dev.stderr.read()
        dev.wait(20)
        logs = " ".join(p.read_text() for p in cwd.glob(".acctkit/logs/*") if p.is_file())
        if "address already in use" not in logs and "is taken by pid" not in err:
            raise AssertionError(f"acctkit dev did not start: {err}")
    raise AssertionError("acctkit dev lost a port three times")


def child_pids(dev: subprocess.Popen[str]) -> tuple[int, int]:
    """The children's pids from the ready line (read blocks until it is printed or dev exits)."""
    assert dev.stdout is not None
    line = dev.stdout.readline()
    found = READY.search(line)
    assert found, f"no ready line: {line!r} {dev.stderr.read() if dev.stderr else ''}"
    return int(found.group(1)), int(found.group(2))


def gone(pid: int) -> bool:
    """Exited (a zombie not yet reaped by init counts: it holds no port and runs no code)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_for(predicate, what: str, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def dev_run(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """Started dev processes; anything left is killed at the end so a failure leaks nothing."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for dev in started:
        if dev.poll() is None:
            dev.kill()
        dev.wait(10)


def test_children_die_with_dev_even_on_sigkill(tmp_path: Path, dev_run: list) -> None:  # type: ignore[type-arg]
    ports = free_ports(3)
    dev = start_dev(tmp_path, ports)
    dev_run.append(dev)
    serve, devmail = child_pids(dev)
    assert not gone(serve) and not gone(devmail)
    # Their own process group: the terminal's Ctrl+C goes to dev, which stops them in order.
    assert os.getpgid(serve) == serve and os.getpgid(devmail) == devmail

    dev.send_signal(signal.SIGKILL)
    dev.wait(10)
    wait_for(lambda: gone(serve) and gone(devmail), "both children exit after dev's SIGKILL")
    wait_for(lambda: all(port_free(p) for p in ports), "every port is free again")


def test_a_taken_port_is_refused_naming_its_holder(tmp_path: Path, dev_run: list) -> None:  # type: ignore[type-arg]
    api, mail, smtp = free_ports(3)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", mail))
        holder.listen()
        dev = start_dev(tmp_path, [api, mail, smtp])
        dev_run.append(dev)
        _, err = dev.communicate(timeout=30)
    assert dev.returncode == 1
    assert f"port {mail} (devmail HTTP) is taken by pid {os.getpid()}" in err
    assert "--mail-port" in err
    assert not (tmp_path / ".acctkit" / "logs").exists()  # refused before starting anything


def test_ctrl_c_stops_everything_and_exits_0(tmp_path: Path, dev_run: list) -> None:  # type: ignore[type-arg]
    dev, serve, devmail = running_dev(tmp_path)
    dev_run.append(dev)
    dev.send_signal(signal.SIGINT)
    assert dev.wait(20) == 0
    assert gone(serve) and gone(devmail)


def test_a_child_that_dies_makes_dev_stop_and_exit_1(tmp_path: Path, dev_run: list) -> None:  # type: ignore[type-arg]
    dev, serve, devmail = running_dev(tmp_path)
    dev_run.append(dev)
    os.kill(devmail, signal.SIGKILL)
    out, _ = dev.communicate(timeout=20)
    assert dev.returncode == 1
    assert f"devmail exited with status {-signal.SIGKILL}" in out
    assert gone(serve)
