"""The sender under real SMTP: a send slower than the lease is not taken over by a second sender
(the live one renews its lease), so the mail goes out once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from core import accounts, db, mail, outbox
from core.context import Context
from core.models import Outbox, RefreshToken
from core.smtp import SmtpTransport
from server.sender import OutboxSender
from tests.conftest import Inbox, make_settings

SEND_SECONDS = 2.5
LEASE = 0.9


class SlowInbox(Inbox):
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(SEND_SECONDS)
        return await super().handle_DATA(server, session, envelope)


def _queue(ctx: Context) -> None:
    with db.connection(), db.write_transaction():
        outbox.enqueue(
            ctx,
            mail.notice_mail(
                to="slow@example.com", name="S", subject="s", lines=["x"], flow="f", ref="r"
            ),
        )


def _row() -> Outbox:
    with db.connection():
        return Outbox.get()


async def _until(check: Callable[[], bool], timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.02)):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def test_a_slow_send_keeps_its_lease_and_goes_out_once(migrated: str) -> None:
    box = SlowInbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="slow.test"), "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    ctx = Context.create(make_settings(migrated))  # the real clock: leases really run out
    await asyncio.to_thread(_queue, ctx)
    transport = SmtpTransport(box.url, ctx.settings.mail_from)
    first = OutboxSender(ctx, transport, 0.05, lease=LEASE)
    second = OutboxSender(ctx, transport, 0.05, lease=LEASE)
    first.start()
    await _until(lambda: _row().claimed_by == first.id)
    second.start()  # polls every 50 ms and would take the mail over the moment a lease lapsed
    started = time.monotonic()
    try:
        await box.wait_for(lambda m: True, timeout=10)
        await _until(lambda: _row().status == "sent")
        await asyncio.sleep(LEASE * 2)  # room for a duplicate to arrive, if there were one
    finally:
        await first.stop()
        await second.stop()
        server.close()
    assert time.monotonic() - started > LEASE * 2  # the send outlasted several leases
    row = await asyncio.to_thread(_row)
    assert len(box.messages) == 1 and row.attempts == 1


async def test_a_dead_senders_mail_is_taken_over_when_its_lease_lapses(
    migrated: str, inbox: Inbox
) -> None:
    ctx = Context.create(make_settings(migrated))
    await asyncio.to_thread(_queue, ctx)
    lapses = ctx.clock.now() + timedelta(seconds=1)

    def claimed_by_a_dead_sender() -> None:
        with db.connection():
            Outbox.update(claimed_by="dead-host:4242:0", next_try_at=lapses, attempts=1).execute()

    await asyncio.to_thread(claimed_by_a_dead_sender)
    live = OutboxSender(ctx, SmtpTransport(inbox.url, ctx.settings.mail_from), 0.05)
    live.start()
    try:
        message = await inbox.wait_for(lambda m: True, timeout=outbox.LEASE_SECONDS + 5)
    finally:
        await live.stop()
    assert ctx.clock.now() >= lapses  # not before the dead sender's lease ran out
    row = await asyncio.to_thread(_row)
    assert message["To"] == "slow@example.com" and row.status == "sent" and row.attempts == 2


async def test_the_sender_deletes_finished_mail_past_the_retention(
    migrated: str, inbox: Inbox
) -> None:
    ctx = Context.create(make_settings(migrated, outbox_retention=60))
    await asyncio.to_thread(_queue, ctx)
    long_ago = ctx.clock.now() - timedelta(seconds=61)

    def sent_long_ago() -> None:
        with db.connection():
            Outbox.update(status="sent", sent_at=long_ago, attempts=1).execute()

    def rows() -> int:
        with db.connection():
            return Outbox.select().count()

    await asyncio.to_thread(sent_long_ago)
    sender = OutboxSender(ctx, SmtpTransport(inbox.url, ctx.settings.mail_from), 0.05)
    sender.start()
    try:
        await _until(lambda: rows() == 0)
    finally:
        await sender.stop()


async def test_the_sender_deletes_ended_records_past_their_retention(
    migrated: str, inbox: Inbox
) -> None:
    ctx = Context.create(make_settings(migrated, record_retention=60))
    ended = ctx.clock.now() - timedelta(seconds=61)

    def a_token_that_expired_long_ago_and_one_still_good() -> None:
        user = accounts.create_user(ctx, username="u", email="u@example.com", password="p" * 12)
        with db.connection(), db.write_transaction():
            for jti, expires_at in (("ended", ended), ("live", ctx.clock.now() + timedelta(1))):
                RefreshToken.create(
                    jti=jti, user=user.id, family="f", created_at=ended, expires_at=expires_at
                )

    def tokens() -> list[str]:
        with db.connection():
            return [row.jti for row in RefreshToken.select()]

    await asyncio.to_thread(a_token_that_expired_long_ago_and_one_still_good)
    sender = OutboxSender(ctx, SmtpTransport(inbox.url, ctx.settings.mail_from), 0.05)
    sender.start()
    try:
        await _until(lambda: tokens() == ["live"])
    finally:
        await sender.stop()


class QuotingRelay(Inbox):
    """A relay whose content filter refuses the mail and quotes the lines it matched, as
    filters do ("554 5.7.1 rejected: ..."): the code's line and the link's."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        text = envelope.content.decode() if isinstance(envelope.content, bytes) else ""
        quoted = [line for line in text.splitlines() if "code is" in line or "://" in line]
        return "554 5.7.1 rejected by content filter: " + " | ".join(quoted[:2])


CODE = "402781"
UID = "c2VjcmV0LXVpZC1xdW90ZWQtYnktYS1yZWxheQ"


def _queue_secret(ctx: Context, kind: str) -> None:
    later = ctx.clock.now() + timedelta(minutes=10)
    if kind == "code":
        carried = mail.code_mail(
            to="q@example.com", name="Q", code=CODE, flow="signup", ref="r1", seq=1, ttl=600,
            expires_at=later, purpose="finish signing up",
        )  # fmt: skip
    else:
        link = f"http://127.0.0.1:8000/reset-password/{UID}"
        carried = mail.reset_mail(
            to="q@example.com", name="Q", link=link, ref="r2", ttl=300, expires_at=later
        )
    with db.connection(), db.write_transaction():
        outbox.enqueue(ctx, carried)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "acctkit.sender" and r.levelname == "WARNING"]


@pytest.mark.parametrize("kind", ["code", "link"])
async def test_a_relay_quoting_the_mail_puts_no_code_or_link_in_the_log(
    migrated: str, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    relay = QuotingRelay()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(relay, hostname="quote.test"), "127.0.0.1", 0)
    relay.port = server.sockets[0].getsockname()[1]
    ctx = Context.create(make_settings(migrated))
    await asyncio.to_thread(_queue_secret, ctx, kind)
    sender = OutboxSender(ctx, SmtpTransport(relay.url, ctx.settings.mail_from), 0.05)
    sender.start()
    try:
        # The sender's warning (refused, or unreachable: smtplib drops the connection after it).
        await _until(lambda: any("554" in r.getMessage() for r in _warnings(caplog)))
    finally:
        await sender.stop()
        server.close()
    # Ours only: the relay (aiosmtpd, in this process) logs its own answer at DEBUG.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    assert "554, b'5.7.1 rejected by content filter: " in ours  # the relay's answer is kept
    assert CODE not in ours and UID not in ours, ours
