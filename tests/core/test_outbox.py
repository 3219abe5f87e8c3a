"""The outbox: each mail is claimed by one sender, retried with backoff, sent over real SMTP."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import psycopg2
import pytest

from core import db, mail, outbox, profile, request_id, schema, signup
from core.context import Context
from core.models import Outbox, User
from core.outbox import DeliveryResult, OutgoingMail
from core.smtp import SmtpConfig, SmtpTransport
from tests.conftest import FixedCodes, Inbox, make_settings
from tests.core.test_retention import PASSWORD, _request
from tests.locks import until_waiting


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


def _failing(error: str):  # type: ignore[no-untyped-def]
    return lambda batch: [DeliveryResult(m.id, error) for m in batch]


def _ok(batch: list[OutgoingMail]) -> list[DeliveryResult]:
    return [DeliveryResult(m.id) for m in batch]


def _claim(ctx: Context, limit: int = 50, sender: str = "s"):  # type: ignore[no-untyped-def]
    with db.connection():
        return outbox.claim_due(ctx, limit, sender=sender)


def _code_mail(expires_at: datetime) -> mail.Mail:
    return mail.code_mail(
        to="c@example.com",
        name="C",
        code="042917",
        flow="signup",
        ref="sg",
        seq=1,
        ttl=600,
        expires_at=expires_at,
        purpose="finish signing up",
    )


def test_concurrent_senders_claim_each_mail_once(ctx: Context) -> None:
    _enqueue(ctx, 60)
    seen: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def transport(batch: list[OutgoingMail]) -> list[DeliveryResult]:
        with lock:
            seen.extend(m.id for m in batch)
        return [DeliveryResult(m.id) for m in batch]

    def sender(name: str) -> None:
        barrier.wait()
        while outbox.deliver_due(ctx, transport, limit=7, sender=name).claimed:
            pass

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(sender, f"s{i}") for i in range(4)]:
            future.result()
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 60
    with db.connection():
        assert Outbox.select().where(Outbox.status == "sent").count() == 60


def test_failed_delivery_is_retried_with_backoff(ctx: Context, clock) -> None:
    _enqueue(ctx, 1)
    assert outbox.deliver_due(ctx, _failing("451 try later")).claimed == 1
    assert outbox.deliver_due(ctx, _failing("451 try later")).claimed == 0  # backing off
    row = _only_row()
    assert row.status == "pending" and row.attempts == 1 and row.last_error == "451 try later"
    assert row.claimed_by is None
    clock.advance(3)
    assert outbox.deliver_due(ctx, _ok).sent == 1
    assert _only_row().status == "sent"


def test_oldest_mail_is_claimed_first(ctx: Context, clock) -> None:
    _enqueue(ctx, 3)
    with db.connection():
        Outbox.update(next_try_at=clock.now()).execute()
    batch, _ = _claim(ctx, limit=2)
    assert [m.to for m in batch] == ["u0@example.com", "u1@example.com"]


def test_a_notice_is_retried_long_after_any_attempt_cap(ctx: Context, clock) -> None:
    """No MAX_ATTEMPTS: 30 failures over 15 hours leave the notice pending, not failed."""
    _enqueue(ctx, 1)
    for _ in range(30):
        assert outbox.deliver_due(ctx, _failing("421 relay down")).claimed == 1
        clock.advance(outbox.BACKOFF_CAP_SECONDS * 2)
    row = _only_row()
    assert (row.status, row.attempts) == ("pending", 30)
    clock.advance(ctx.settings.notice_retry_period)
    done = outbox.deliver_due(ctx, _failing("never"))
    assert done.claimed == 0 and done.expired == ["password-changed"]
    row = _only_row()
    assert row.status == "expired" and row.last_error == "421 relay down"


def test_a_code_mail_is_retried_until_its_code_expires(ctx: Context, clock) -> None:
    expires_at = clock.now() + timedelta(seconds=600)
    with db.connection(), db.write_transaction():
        outbox.enqueue(ctx, _code_mail(expires_at))
    assert outbox.deliver_due(ctx, _failing("connect refused")).claimed == 1
    row = _only_row()
    assert row.expires_at == expires_at == row.give_up_at
    # Backoff never schedules a retry past the code's expiry.
    for _ in range(10):
        clock.advance(outbox.BACKOFF_CAP_SECONDS)
        outbox.deliver_due(ctx, _failing("connect refused"))
    row = _only_row()
    assert row.status == "expired" and row.last_error == "connect refused"
    assert outbox.deliver_due(ctx, _ok).claimed == 0  # never sent once it cannot work


def test_an_unsent_code_mail_ends_when_a_newer_code_replaces_it(ctx: Context, clock) -> None:
    expires_at = clock.now() + timedelta(seconds=600)
    with db.connection(), db.write_transaction():
        outbox.enqueue(ctx, _code_mail(expires_at))
    outbox.deliver_due(ctx, _failing("connect refused"))  # SMTP is down; then a resend
    with db.connection(), db.write_transaction():
        outbox.enqueue(ctx, dataclasses.replace(_code_mail(expires_at), seq=2))
    clock.advance(60)  # mail 1's backoff is over too
    done = outbox.deliver_due(ctx, _ok)
    assert [m.id for m, _ in done.outcomes] == [2]
    with db.connection():
        first = Outbox.get_by_id(1)
    assert first.status == "expired"
    assert first.last_error == "superseded by code #2 before it could be sent"


def test_a_mail_not_tried_before_its_code_expired_says_so(ctx: Context, clock) -> None:
    with db.connection(), db.write_transaction():
        outbox.enqueue(ctx, _code_mail(clock.now() + timedelta(seconds=60)))
    clock.advance(61)
    assert outbox.deliver_due(ctx, _ok).expired == ["signup"]
    assert _only_row().last_error == "expired before it could be sent"


def test_a_dead_senders_claim_is_taken_over_when_its_lease_runs_out(ctx: Context, clock) -> None:
    _enqueue(ctx, 1)
    batch, _ = _claim(ctx, sender="dead-sender")  # claimed, then its process dies
    assert len(batch) == 1 and _only_row().claimed_by == "dead-sender"
    assert outbox.deliver_due(ctx, _ok, sender="live").claimed == 0
    clock.advance(outbox.LEASE_SECONDS)
    assert outbox.LEASE_SECONDS < 15
    assert outbox.deliver_due(ctx, _ok, sender="live").sent == 1
    row = _only_row()
    assert row.status == "sent" and row.attempts == 2 and row.claimed_by is None


def test_a_live_sender_keeps_its_claim_by_renewing_the_lease(ctx: Context, clock) -> None:
    _enqueue(ctx, 1)
    _claim(ctx, sender="slow")
    for _ in range(5):  # a send that takes 5 leases' worth of time
        clock.advance(outbox.LEASE_SECONDS * 0.6)
        assert outbox.renew(ctx, "slow") == 1
        assert outbox.deliver_due(ctx, _ok, sender="other").claimed == 0
    clock.advance(outbox.LEASE_SECONDS)
    assert outbox.deliver_due(ctx, _ok, sender="other").sent == 1


def test_waking_makes_waiting_mail_due_but_leaves_claims_alone(ctx: Context, clock) -> None:
    _enqueue(ctx, 3)
    outbox.deliver_due(ctx, _failing("connect refused"))  # all three now back off
    later = clock.now() + timedelta(hours=1)
    with db.connection():  # mail 1 is being sent by another sender right now
        Outbox.update(claimed_by="sender-a", next_try_at=later).where(Outbox.id == 1).execute()
    assert outbox.deliver_due(ctx, _ok).claimed == 0
    assert outbox.wake_waiting(ctx) == 2
    done = outbox.deliver_due(ctx, _ok, sender="b")
    assert [m.id for m, _ in done.outcomes] == [2, 3]


def test_a_mail_carries_the_request_id_that_caused_it(ctx: Context) -> None:
    token = request_id.bind("req-42")
    try:
        _enqueue(ctx, 1)
    finally:
        request_id.unbind(token)
    _enqueue(ctx, 1)
    with db.connection():
        first, second = Outbox.select().order_by(Outbox.id)
    assert first.request_id == "req-42"
    assert json.loads(first.headers)["X-Acctkit-Request-ID"] == "req-42"
    assert second.request_id is None and "X-Acctkit-Request-ID" not in json.loads(second.headers)


async def test_smtp_transport_delivers_with_headers_and_both_bodies(
    ctx: Context, inbox: Inbox
) -> None:
    await asyncio.to_thread(_enqueue, ctx, 2)
    transport = SmtpTransport(inbox.url, ctx.settings.mail_from)
    loop = asyncio.get_running_loop()
    assert (await loop.run_in_executor(None, outbox.deliver_due, ctx, transport)).sent == 2
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
    assert (await loop.run_in_executor(None, outbox.deliver_due, ctx, transport)).claimed == 1
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


def _statuses() -> list[tuple[str, str]]:
    with db.connection():
        return sorted((row.ref, row.status) for row in Outbox.select())


def test_finished_mail_goes_after_the_retention_and_unsent_mail_never(ctx: Context, clock) -> None:
    ctx = dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, outbox_retention=3600)
    )
    _enqueue(ctx, 3)
    assert outbox.deliver_due(ctx, _ok, limit=1).sent == 1  # r0 sent
    assert outbox.deliver_due(ctx, _failing("451 later"), limit=1).claimed == 1  # r1 failing
    with db.connection(), db.write_transaction():  # the first code's mail ends superseded
        outbox.enqueue(ctx, _code_mail(clock.now() + timedelta(hours=5)))
        outbox.enqueue(
            ctx, dataclasses.replace(_code_mail(clock.now() + timedelta(hours=5)), seq=2)
        )
    before = _statuses()
    clock.advance(3599)
    assert outbox.purge(ctx) == 0 and _statuses() == before
    clock.advance(2)
    assert outbox.purge(ctx) == 2  # the sent notice and the superseded code mail
    assert _statuses() == [("r1", "pending"), ("r2", "pending"), ("sg", "pending")]
    assert outbox.deliver_due(ctx, _ok).sent == 3
    assert outbox.purge(ctx) == 0  # sent just now
    clock.advance(3601)
    assert outbox.purge(ctx) == 3 and _statuses() == []


def test_purge_deletes_in_batches_until_nothing_is_left(ctx: Context, clock) -> None:
    _enqueue(ctx, 12)
    assert outbox.deliver_due(ctx, _ok).sent == 12
    clock.advance(ctx.settings.outbox_retention + 1)
    assert outbox.purge(ctx, batch=5) == 12 and _statuses() == []


@pytest.mark.postgres
def test_renewing_leases_while_the_outcomes_are_recorded_is_not_a_deadlock(
    postgres_url: str, clock
) -> None:
    """The sender renews its leases from its second thread while its first may be recording
    outcomes: the renewal's one UPDATE took the rows in table order, the record one row at a
    time in id order, and PostgreSQL failed one of them (an unrecorded send is sent again).
    Lined up with mail 1 found after mail 2, and held: the record waits for it first, then the
    renewal comes."""
    application = f"acctkit-{uuid.uuid4().hex[:12]}"
    db.open_database(f"{postgres_url}&application_name={application}")
    try:
        schema.migrate()
        ctx = Context.create(make_settings(postgres_url), clock=clock)
        _enqueue(ctx, 2)
        sending, send = threading.Event(), threading.Event()

        def slow(batch: list[OutgoingMail]) -> list[DeliveryResult]:
            sending.set()
            send.wait(10)
            return _ok(batch)

        holder = psycopg2.connect(postgres_url)
        with ThreadPoolExecutor(2) as pool:
            try:
                delivering = pool.submit(outbox.deliver_due, ctx, slow, sender="s")
                assert sending.wait(10)
                cur = holder.cursor()
                # Mail 1 now comes after mail 2, in the table and in the index on next_try_at.
                cur.execute("UPDATE outbox SET next_try_at = next_try_at + 1 WHERE id = 1")
                holder.commit()
                cur.execute("SELECT id FROM outbox WHERE id = 1 FOR UPDATE")
                send.set()
                until_waiting(application, 1)
                renewing = pool.submit(outbox.renew, ctx, "s")
                until_waiting(application, 2, unless=renewing)
            finally:
                send.set()
                holder.rollback()
                holder.close()
            delivered, renewed = delivering.result(), renewing.result()
        assert delivered.sent == 2 and renewed <= 1
        assert _statuses() == [("r0", "sent"), ("r1", "sent")]
    finally:
        db.close_database()


@pytest.mark.postgres
def test_deleting_an_account_while_its_mail_is_recorded_is_not_a_deadlock(
    postgres_url: str, clock
) -> None:
    """The sender records a batch's outcomes in id order in one transaction; deleting the
    account deleted its unsent mail in one DELETE, in the order the plan visited the rows.
    Lined up with the first mail stored after the second and held: the record waits for it,
    then the deletion comes (which took the second mail, then waited for the first)."""
    application = f"acctkit-{uuid.uuid4().hex[:12]}"
    db.open_database(f"{postgres_url}&application_name={application}")
    try:
        schema.migrate()
        ctx = Context.create(make_settings(postgres_url), clock=clock)
        started = signup.start(
            dataclasses.replace(ctx, random=FixedCodes(333333)), _request("dora")
        )
        dora = signup.verify(ctx, started.signup_id, "333333").user.id
        assert outbox.deliver_due(ctx, _ok).sent >= 1  # the signup's own mail out of the way
        with db.connection(), db.write_transaction():
            user = User.get_by_id(dora)
            ids = [
                outbox.enqueue(
                    ctx,
                    mail.notice_mail(
                        to="dora@example.com",
                        name="D",
                        subject="hi",
                        lines=["x"],
                        flow="password-changed",
                        ref=f"n{i}",
                    ),
                    user=user,
                )
                for i in range(2)
            ]
        first = min(ids)
        holder = psycopg2.connect(postgres_url)
        cur = holder.cursor()
        # The first mail now lies after the second, in the table and in every index.
        cur.execute("UPDATE outbox SET next_try_at = next_try_at + 1 WHERE id = %s", (first,))
        holder.commit()
        clock.advance(1)
        sending, send = threading.Event(), threading.Event()

        def slow(batch: list[OutgoingMail]) -> list[DeliveryResult]:
            sending.set()
            send.wait(10)
            return _ok(batch)

        with ThreadPoolExecutor(2) as pool:
            try:
                delivering = pool.submit(outbox.deliver_due, ctx, slow, sender="s")
                assert sending.wait(10)
                cur.execute("SELECT id FROM outbox WHERE id = %s FOR UPDATE", (first,))
                send.set()
                until_waiting(application, 1)
                deleting = pool.submit(profile.delete_account, ctx, dora, PASSWORD)
                until_waiting(application, 2, unless=deleting)
            finally:
                send.set()
                holder.rollback()
                holder.close()
            delivered, deleted = delivering.result(), deleting.result()
        assert delivered.sent == 2 and deleted is None
        with db.connection():
            assert User.get_or_none(User.id == dora) is None
    finally:
        db.close_database()
