"""The SMTP side: aiosmtpd takes any mail for any recipient and hands it to the store.

No relaying, no recipient checks: a catcher that refuses mail would hide the very bugs it is
there to show. The server runs as a plain `loop.create_server` protocol on the HTTP API's loop.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from devmail.config import Config
from devmail.store import Envelope as StoredEnvelope
from devmail.store import Store

log = logging.getLogger(__name__)


class _NoLoginDataWarning(logging.Filter):
    """aiosmtpd 1.4 logs a deprecation warning of its own on every successful AUTH."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_NoLoginDataWarning())


@dataclass
class SmtpStats:
    accepted: int = 0
    accepted_bytes: int = 0
    rejected: int = 0


class CatchAllHandler:
    """aiosmtpd handler: every message that reaches DATA is stored, byte for byte."""

    def __init__(self, store: Store, stats: SmtpStats) -> None:
        self._store = store
        self._stats = stats

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        received = StoredEnvelope(envelope.mail_from or "", tuple(envelope.rcpt_tos))
        try:
            summary = await self._store.add(raw, received)
        except Exception:
            log.exception("could not store a message from %s", received.mail_from)
            self._stats.rejected += 1
            return "451 4.3.0 devmail could not store the message, try again"
        self._stats.accepted += 1
        self._stats.accepted_bytes += len(raw)
        return f"250 2.0.0 Ok: queued as {summary.message.id}"


class _CountingSMTP(SMTP):
    """aiosmtpd refuses oversized mail itself (552) before any handler sees it; count those."""

    def __init__(self, handler: Any, *, stats: SmtpStats, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._stats = stats

    async def push(self, status: str) -> None:
        if status.startswith("552"):
            self._stats.rejected += 1
        await super().push(status)


def accept_any_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """With --auth, services configured with a password can send: every login succeeds."""
    return AuthResult(success=True)


@dataclass
class SmtpServer:
    """The listening server plus its live sessions, so shutdown can end idle connections."""

    server: asyncio.Server
    sessions: weakref.WeakSet[SMTP] = field(default_factory=weakref.WeakSet)

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.server.close()
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        await self.server.wait_closed()


async def start_smtp(config: Config, store: Store, stats: SmtpStats) -> SmtpServer:
    handler = CatchAllHandler(store, stats)
    sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def make_session() -> SMTP:
        session = _CountingSMTP(
            handler,
            stats=stats,
            data_size_limit=config.max_message_bytes or None,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=config.hostname,
            ident="devmail",
            authenticator=accept_any_login if config.auth else None,
            auth_require_tls=False,
        )
        sessions.add(session)
        return session

    factory: Callable[[], SMTP] = make_session
    server = await asyncio.get_running_loop().create_server(
        factory, host=config.host, port=config.smtp_port
    )
    return SmtpServer(server, sessions)
