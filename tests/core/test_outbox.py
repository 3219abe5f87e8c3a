"""The outbox: each mail is claimed by one sender, retried with backoff, sent over real SMTP."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core import db, mail, outbox
from core.context import Context
from core.models import Outbox
from core.outbox import DeliveryResult, OutgoingMail
from core.smtp import SmtpConfig, SmtpTransport
from tests.conftest import Inbox


def _enqueue(ctx: Context, n: int) -> None:
    with db.connection(), db.write_transaction():
        for i in range(n):
            outbox.enqueue(
                ctx,
                mail.notice_mail(
                    to=f"u{i}@example.com",
                    name="U",
                    subject="hi",
                    lines=["x"],
                    flow="password-changed",
                    ref=f"r{i}",
                ),
            )


def _only_row() -> Outbox:
    with db.connection():
        return Outbox.get()


def test_concurrent_senders_claim_each_mail_once(ctx: Context) -> None:
    _enqueue(ctx, 60)
    seen: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def transport(batch: list[OutgoingMail]) -> list[DeliveryResult]:
        with lock:
            seen.extend(m.id for m in batch)
        return [DeliveryResult(m.id) for m in batch]

    def sender() -> None:
        barrier.wait()
        while outbox.deliver_due(ctx, transport, limit=7):
            pass

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(sender) for _ in range(4)]:
            future.result()
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 60
    with db.connection():
        assert Outbox.select().where(Outbox.status == "sent").count() == 60


def test_failed_delivery_is_retried_with_backoff(ctx: Context, clock) -> None:
    _enqueue(ctx, 1)
    failing = lambda batch: [DeliveryResult(m.id, "451 try later") for m in batch]  # noqa: E731
    assert outbox.deliver_due(ctx, failing) == 1
    assert outbox.deliver_due(ctx, failing) == 0  # backing off, not due yet
    with db.connection():
        row = Outbox.get()
    assert row.status == "pending" and row.attempts == 1 and row.last_error == "451 try later"
    clock.advance(3)
    assert outbox.deliver_due(ctx, lambda b: [DeliveryResult(m.id) for m in b]) == 1
    with db.connection():
        assert Outbox.get().status == "sent"


def test_a_mail_is_given_up_after_max_attempts(ctx: Context, clock) -> None:
    _enqueue(ctx, 1)
    failing = lambda batch: [DeliveryResult(m.id, "550 no") for m in batch]  # noqa: E731
    for _ in range(outbox.MAX_ATTEMPTS):
        assert outbox.deliver_due(ctx, failing) == 1
        clock.advance(outbox.BACKOFF_CAP_SECONDS * 2)
    with db.connection():
        assert Outbox.get().status == "failed"
    assert outbox.deliver_due(ctx, failing) == 0


def test_a_crashed_sender_only_delays_the_mail(ctx: Context, clock) -> None:
    _enqueue(ctx, 1)
    with db.connection():
        claimed = outbox.claim_due(ctx)  # claimed, then the process "dies" before recording
    assert len(claimed) == 1
    assert outbox.deliver_due(ctx, lambda b: [DeliveryResult(m.id) for m in b]) == 0
    clock.advance(outbox.LEASE_SECONDS)
    assert outbox.deliver_due(ctx, lambda b: [DeliveryResult(m.id) for m in b]) == 1


async def test_smtp_transport_delivers_with_headers_and_both_bodies(
    ctx: Context, inbox: Inbox
) -> None:
    await asyncio.to_thread(_enqueue, ctx, 2)
    transport = SmtpTransport(inbox.url, ctx.settings.mail_from)
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, outbox.deliver_due, ctx, transport) == 2
    message = await inbox.next_to("u1@example.com")
    assert message["X-Acctkit-Flow"] == "password-changed"
    assert message["X-Acctkit-Ref"] == "r1" and message["X-Acctkit-Seq"] == "1"
    assert message.get_body(("plain",)) and message.get_body(("html",))
    assert message["Message-ID"].endswith("@localhost>")


async def test_smtp_refusal_is_recorded_not_raised(ctx: Context, inbox: Inbox) -> None:
    await asyncio.to_thread(_enqueue, ctx, 1)
    inbox.refuse = True
    transport = SmtpTransport(inbox.url, ctx.settings.mail_from)
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, outbox.deliver_due, ctx, transport) == 1
    row = await asyncio.to_thread(_only_row)
    assert row.status == "pending" and "451" in row.last_error


def test_smtp_urls() -> None:
    assert SmtpConfig.from_url("smtp://127.0.0.1:1025") == SmtpConfig(
        "smtp", "127.0.0.1", 1025, None, None
    )
    c = SmtpConfig.from_url("smtps://me%40x.org:p%3Ass@mail.example.com")
    assert (c.port, c.username, c.password) == (465, "me@x.org", "p:ss")
    assert SmtpConfig.from_url("smtp+starttls://h").port == 587


async def test_database_calls_on_the_event_loop_thread_are_refused(ctx: Context) -> None:
    """The guard that keeps sync Peewee work off the loop (DESIGN.md) fails loudly."""
    with pytest.raises(db.BlockingCallOnEventLoop, match="executor"):
        _enqueue(ctx, 1)
    assert await asyncio.to_thread(outbox.pending_count) == 0
