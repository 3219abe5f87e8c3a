"""Shared fixtures: a real SQLite file (or a fresh PostgreSQL schema) per test, a real SMTP
server on an ephemeral port that captures what the service sends, and the real app."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from core import db, schema
from core.clock import FrozenClock
from core.context import Context
from core.settings import Settings
from tests.stalls import StallMonitor, monitoring

PG_DSN = os.environ.get("ACCTKIT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_reason() -> str | None:
    """None when PostgreSQL is reachable; otherwise why not."""
    try:
        import psycopg2

        psycopg2.connect(PG_DSN, connect_timeout=3).close()
    except Exception as exc:
        return f"PostgreSQL at {PG_DSN} is not reachable ({type(exc).__name__}: {exc})"
    return None


_PG_REASON = _postgres_reason()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty schema in the test database, used through search_path."""
    with postgres_schema() as url:
        yield url


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """`postgres_url` for fixtures of a wider scope."""
    if _PG_REASON is not None:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {_PG_REASON}")
        pytest.skip(_PG_REASON)
    import psycopg2

    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(PG_DSN)
    conn.autocommit = True
    conn.cursor().execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{PG_DSN}?options=-csearch_path%3D{name}"
    finally:
        conn.cursor().execute(f"DROP SCHEMA {name} CASCADE")
        conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/acctkit.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/acctkit.db"


def make_settings(database_url: str, **changes: object) -> Settings:
    base = Settings(
        database_url=database_url,
        secret_key="test-secret-" + "x" * 40,
        data_dir="/nonexistent",
        argon2_time_cost=1,
        argon2_memory_kib=8,
        argon2_parallelism=1,
        smtp_url="smtp://127.0.0.1:1",
    )
    return base.replace(**changes)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def migrated(database_url: str) -> Iterator[str]:
    db.open_database(database_url)
    schema.migrate()
    yield database_url
    db.close_database()


@pytest.fixture
def ctx(migrated: str, clock: FrozenClock) -> Context:
    """A core context on a migrated database (both backends), with cheap argon2 and a fake clock."""
    return Context.create(make_settings(migrated), clock=clock)


class FixedCodes:
    """Randomness whose codes the test chooses (tokens stay random)."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)

    def randbelow(self, n: int) -> int:
        return self.codes.pop(0) if self.codes else secrets.randbelow(n)

    def token_urlsafe(self, nbytes: int | None = None) -> str:
        return secrets.token_urlsafe(nbytes)


@dataclass
class Inbox:
    """What a real SMTP server on an ephemeral port received, with a way to await the next one."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    condition: asyncio.Condition = field(default_factory=asyncio.Condition)
    refuse: bool = False

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        async with self.condition:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append(envelope)
            self.condition.notify_all()
        return "250 OK"

    async def wait_for(
        self, predicate: Callable[[EmailMessage], bool], timeout: float = 10
    ) -> EmailMessage:
        async def found() -> EmailMessage:
            async with self.condition:
                while True:
                    for message in self.messages:
                        if predicate(message):
                            return message
                    await self.condition.wait()

        return await asyncio.wait_for(found(), timeout)

    async def next_to(
        self, address: str, flow: str | None = None, seq: int | None = None, timeout: float = 10
    ) -> EmailMessage:
        def match(m: EmailMessage) -> bool:
            return (
                address.lower() in str(m["To"]).lower()
                and (flow is None or m["X-Acctkit-Flow"] == flow)
                and (seq is None or m["X-Acctkit-Seq"] == str(seq))
            )

        return await self.wait_for(match, timeout)


def body_text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None, "mail has no text/plain part"
    return part.get_content()


def code_in(message: EmailMessage) -> str:
    import re

    found = re.search(r"verification code is (\d{6})", body_text(message))
    assert found, f"no code in mail: {body_text(message)!r}"
    return found.group(1)


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(box, hostname="inbox.test"), host="127.0.0.1", port=0
    )
    box.port = server.sockets[0].getsockname()[1]
    yield box
    server.close()
    await server.wait_closed()


@pytest.fixture
def monitor(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[StallMonitor]:
    """Every callback of the loop timed (tests/stalls.py); `monitor.watched` picks the thread."""
    yield from monitoring(monkeypatch, caplog)
