"""The SMTP side: aiosmtpd takes any mail for any recipient and hands it to the store.

No relaying, no recipient checks: a catcher that refuses mail would hide the very bugs it is
there to show. The server runs as a plain `loop.create_server` protocol on the HTTP API's loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from contract.mailpit import ChaosStage
from devmail.chaos import Chaos, Verdict
from devmail.config import Config
from devmail.message import Envelope as StoredEnvelope
from devmail.session import PipelinedSMTP
from devmail.store import Store

log = logging.getLogger(__name__)


class _NoLoginDataWarning(logging.Filter):
    """aiosmtpd 1.4 logs a deprecation warning of its own on every successful AUTH."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


_VERBS = frozenset(
    b"HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY EXPN HELP AUTH STARTTLS".split()
)


class _NoContentAsCommands(logging.Filter):
    """aiosmtpd logs every line it reads as a command, and the word of each unknown one.

    When DATA is refused (no recipient yet, a chaos fault) and the client sends its message
    anyway, each line of the message is read as a command: codes and reset links went to the
    log. A line that does not start with an SMTP verb is logged by its length alone.
    """

    _LINES = frozenset({"%r >> %r", "_handle_client readline: %r"})

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or not args:
            return True
        if record.msg in self._LINES and isinstance(args[-1], bytes):
            words = args[-1].split(None, 1)
            if words and words[0].upper() in _VERBS:
                return True
            record.args = (*args[:-1], f"<{len(args[-1])} bytes that are no command>")
        elif record.msg == "%r unrecognised: %s":
            record.args = (*args[:-1], "a line that is no command")
        return True


logging.getLogger("mail.log").addFilter(_NoLoginDataWarning())
logging.getLogger("mail.log").addFilter(_NoContentAsCommands())


@dataclass
class SmtpStats:
    accepted: int = 0
    accepted_bytes: int = 0
    rejected: int = 0
    connected: int = 0  # SMTP connections open now


class CatchAllHandler:
    """aiosmtpd handler: every message that reaches DATA is stored, byte for byte."""

    def __init__(self, store: Store, stats: SmtpStats, chaos: Chaos) -> None:
        self._store = store
        self._stats = stats
        self._chaos = chaos

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """Offer PIPELINING (RFC 2920): aiosmtpd reads commands from a buffered stream, so a
        client may send MAIL, RCPT and DATA (and the content with the next envelope) in one
        write, and a message costs one round trip instead of four."""
        session.host_name = hostname
        # aiosmtpd lists AUTH whenever it need not wait for TLS, authenticator or not.
        auth = _session(server).offers_auth
        offered = [line for line in responses[:-1] if auth or not line.startswith("250-AUTH")]
        return [*offered, "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # The Data stage fires after the whole message arrived: the sender has done all its
        # work and must still treat the mail as not delivered (nothing is stored).
        verdict = await _session(server).chaos_at("Data")
        if verdict.action == "drop" and server.transport is not None:
            server.transport.close()
        if verdict.action != "pass":
            self._stats.rejected += 1
            return verdict.reply or "421 4.3.0 devmail chaos: connection dropped"
        raw = envelope.original_content or b""
        received = StoredEnvelope(
            _readable(envelope.mail_from or ""), tuple(map(_readable, envelope.rcpt_tos))
        )
        try:
            # One connection waits for each reply, so its mail is parsed in place; with
            # several, parsing goes to the parser processes while the loop serves the rest.
            summary = await self._store.add(raw, received, crowded=self._stats.connected > 1)
        except Exception:
            log.exception("could not store a message from %s", received.mail_from)
            self._stats.rejected += 1
            return "451 4.3.0 devmail could not store the message, try again"
        self._stats.accepted += 1
        self._stats.accepted_bytes += len(raw)
        return f"250 2.0.0 Ok: queued as {summary.message.id}"


def _readable(address: str) -> str:
    """An envelope address as text that JSON and SQLite can hold.

    After SMTPUTF8, aiosmtpd keeps bytes that are not UTF-8 as surrogate escapes: stored as
    they were, they made the message unstorable with --db and every listing a 500 without.
    They become U+FFFD, as in the headers; /raw still has the message exactly as sent.
    """
    return address.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class _CountingSMTP(PipelinedSMTP):
    """aiosmtpd refuses oversized mail itself (552) before any handler sees it; count those.

    It also runs the chaos stages before the commands they name: a refused or dropped command
    never reaches aiosmtpd's own handling, so the envelope is left as it was.
    """

    def __init__(
        self, handler: Any, *, stats: SmtpStats, chaos: Chaos, offers_auth: bool, **kwargs: Any
    ) -> None:
        super().__init__(handler, **kwargs)
        self._stats = stats
        self._chaos = chaos
        self.offers_auth = offers_auth  # --auth
        self._holding = False  # chaos is holding the answer to a command

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._stats.connected += 1

    def eof_received(self) -> bool:
        """The client has sent all it will (`nc -N host 1025 < session.txt` half-closes).

        aiosmtpd cancelled the session here, dropping the commands already buffered: such a
        client got no reply and its mail was lost, where other SMTP servers answer every
        command they received. Now the session reads on to the end of what was sent,
        replying as usual over the half-open socket, and closes it when it finds nothing
        more (`handle_exception`). A port probe is closed the same way, once its session
        has greeted it.
        """
        if self._holding:
            # A client that hangs up while chaos holds its answer gave up on it (a timeout):
            # the session ends there, and nothing held (a message at Data) is stored.
            super().eof_received()
            return False
        asyncio.StreamReaderProtocol.eof_received(self)  # the reader sees the end
        return True  # keep the sending half open for the replies (devmail has no STARTTLS)

    async def chaos_at(self, stage: ChaosStage) -> Verdict:
        """The chaos verdict for `stage`; while it holds the answer (Latency), an EOF from the
        client ends the session instead of being read as the end of its commands."""
        self._holding = True
        try:
            return await self._chaos.at(stage)
        finally:
            self._holding = False

    async def handle_exception(self, error: Exception) -> str:
        if not isinstance(error, asyncio.IncompleteReadError):
            return await super().handle_exception(error)
        # The end of what the client sent, mid-command or mid-DATA: nothing is stored, and
        # the session ends without a reply to the part it never finished.
        self.release_replies()
        if self.transport is not None:
            self.transport.close()
        await asyncio.sleep(0)  # the transport reports itself lost, which ends the session
        return ""

    def connection_lost(self, error: Exception | None) -> None:
        self._stats.connected -= 1
        super().connection_lost(error)

    async def _faulted(self, stage: ChaosStage) -> bool:
        verdict = await self.chaos_at(stage)
        if verdict.action == "pass":
            return False
        self._stats.rejected += 1
        if verdict.action == "drop":
            if self.transport is not None:
                self.release_replies()
                self.transport.close()
        else:
            await self.push(verdict.reply)
        return True

    async def _handle_client(self) -> None:
        if await self._faulted("Connect"):
            return
        await super()._handle_client()

    @functools.wraps(SMTP.smtp_AUTH)  # keeps aiosmtpd's HELP text for the verb
    async def smtp_AUTH(self, arg: str) -> None:
        if not self.offers_auth:
            # Without --auth, aiosmtpd went on to its deprecated login hooks, which failed
            # with a 500 quoting a TypeError.
            await self.push("502 5.5.1 AUTH is off: start devmail with --auth to offer it")
        elif not await self._faulted("Authentication"):
            await super().smtp_AUTH(arg)

    # HELP lists AUTH only when it is offered (aiosmtpd's own switch for a verb's help).
    smtp_AUTH.__smtp_syntax_when__ = "offers_auth"  # type: ignore[attr-defined]

    @functools.wraps(SMTP.smtp_MAIL)  # keeps aiosmtpd's HELP text for the verb
    async def smtp_MAIL(self, arg: str) -> None:
        if not await self._faulted("Sender"):
            await super().smtp_MAIL(arg)

    @functools.wraps(SMTP.smtp_RCPT)  # keeps aiosmtpd's HELP text for the verb
    async def smtp_RCPT(self, arg: str) -> None:
        if not await self._faulted("Recipient"):
            await super().smtp_RCPT(arg)

    async def push(self, status: str) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # a reply to a session that has ended goes nowhere
        if status.startswith("552"):
            self._stats.rejected += 1
        await super().push(status)


def _session(server: SMTP) -> _CountingSMTP:
    assert isinstance(server, _CountingSMTP), server
    return server


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


async def start_smtp(config: Config, store: Store, stats: SmtpStats, chaos: Chaos) -> SmtpServer:
    handler = CatchAllHandler(store, stats, chaos)
    sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def make_session() -> SMTP:
        session = _CountingSMTP(
            handler,
            stats=stats,
            chaos=chaos,
            offers_auth=config.auth,
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
