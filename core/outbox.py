"""Mail that must not be lost: enqueued in the caller's transaction, delivered later with retries.

`deliver_due` is the whole sender: claim due rows, oldest first (SKIP LOCKED on PostgreSQL, the
write lock on SQLite, so any number of senders deliver each mail once), send them outside any
transaction, then record the outcome.

A claim is a short lease: `claimed_by` names the sender and `next_try_at` is when its lease ends.
The live sender renews its leases while it sends (`renew`), so a mail is only taken over when its
sender has died, and then within one lease.

A mail is never given up while what it carries is still good: a code or link mail is retried until
the code or link expires, a notice for `notice_retry_period`; then it is marked `expired`, keeping
its last error. Statuses: pending, sent, expired (and `failed`, left by older versions).

Finished rows (sent, expired, failed) are kept `outbox_retention` after their last attempt, for
`acctkit outbox` and whoever asks what became of a mail, and then deleted (`purge`): a sent row
still holds the mail's text, and the table would otherwise grow with every signup for ever.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr

from core import request_id
from core.context import Context
from core.db import connection, locked_skip, write_transaction
from core.mail import Mail
from core.models import Outbox, User
from core.redaction import recipient, reply

log = logging.getLogger(__name__)

LEASE_SECONDS = 10
BACKOFF_CAP_SECONDS = 900
REQUEST_ID_HEADER = "X-Acctkit-Request-ID"


@dataclass(frozen=True)
class OutgoingMail:
    id: int
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    message_id: str
    attempts: int
    flow: str = ""


@dataclass(frozen=True)
class DeliveryResult:
    id: int
    error: str | None = None
    # True when the server could not be reached or talked to at all (not this mail's fault).
    unreachable: bool = False


@dataclass(frozen=True)
class DeliveryPass:
    """What one `deliver_due` did, for the sender's log and metrics."""

    outcomes: list[tuple[OutgoingMail, DeliveryResult]] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)  # flows of the mail marked expired

    @property
    def claimed(self) -> int:
        return len(self.outcomes)

    @property
    def sent(self) -> int:
        return sum(1 for _, r in self.outcomes if r.error is None)

    @property
    def unreachable(self) -> DeliveryResult | None:
        return next((r for _, r in self.outcomes if r.unreachable), None)


Transport = Callable[[Sequence[OutgoingMail]], list[DeliveryResult]]


def enqueue(ctx: Context, mail: Mail, *, user: User | None = None) -> int:
    """Store `mail` for delivery. Call inside the transaction that stores what the mail carries.

    The mail carries the id of the request that caused it (header and column), so a mail can be
    traced back to the request and its log lines."""
    now = ctx.clock.now()
    domain = parseaddr(ctx.settings.mail_from)[1].rpartition("@")[2] or "localhost"
    rid = request_id.current.get()
    headers = {**mail.headers, REQUEST_ID_HEADER: rid} if rid else mail.headers
    give_up_at = mail.expires_at or now + timedelta(seconds=ctx.settings.notice_retry_period)
    row = Outbox.create(
        user=user,
        to_addr=mail.to,
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        headers=json.dumps(headers),
        message_id=make_msgid(domain=domain),
        flow=mail.flow,
        ref=mail.ref,
        seq=mail.seq,
        next_try_at=now,
        created_at=now,
        request_id=rid,
        expires_at=mail.expires_at,
        give_up_at=give_up_at,
    )
    log.info(
        "mail queued id=%s flow=%s ref=%s seq=%s to=%s",
        row.id,
        mail.flow,
        mail.ref,
        mail.seq,
        recipient(ctx.settings, mail.to),
    )
    if mail.expires_at is not None and mail.seq > 1:
        _supersede(mail)
    return row.id


def _supersede(mail: Mail) -> None:
    """An older code of this ref stopped working when this one was issued: its mail, if still
    unsent, would only confuse, so it ends as `expired` with the reason instead of going out."""
    Outbox.update(
        status="expired", last_error=f"superseded by code #{mail.seq} before it could be sent"
    ).where(
        Outbox.flow == mail.flow,
        Outbox.ref == mail.ref,
        Outbox.seq < mail.seq,
        Outbox.status == "pending",
        Outbox.expires_at.is_null(False),
        Outbox.claimed_by.is_null(),
    ).execute()


def backoff(attempts: int, cap: int = BACKOFF_CAP_SECONDS) -> timedelta:
    """Exponential backoff with jitter: 2, 4, 8 ... seconds, capped at `cap` (15 minutes by
    default, `ACCTKIT_MAIL_BACKOFF_CAP`). A sender that sees SMTP come back wakes waiting mail at
    once (`wake_waiting`), so the cap only bounds the retries of a mail the server itself keeps
    refusing (a 4xx or 5xx answer to this mail while the server is otherwise up)."""
    base = min(2**attempts, cap)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


def _expire_overdue(ctx: Context, now: datetime) -> list[str]:
    """Mark due mail whose time is up `expired` instead of sending what no longer works."""
    overdue = list(
        locked_skip(
            Outbox.select(Outbox.id, Outbox.flow, Outbox.last_error).where(
                Outbox.status == "pending", Outbox.next_try_at <= now, Outbox.give_up_at <= now
            )
        )
    )
    for row in overdue:
        Outbox.update(
            status="expired",
            claimed_by=None,
            last_error=row.last_error or "expired before it could be sent",
        ).where(Outbox.id == row.id).execute()
        log.warning(
            "mail expired unsent id=%s flow=%s: %s",
            row.id,
            row.flow,
            reply(ctx.settings, row.last_error or ""),
        )
    return [row.flow for row in overdue]


def claim_due(
    ctx: Context, limit: int = 50, *, sender: str = "", lease: float = LEASE_SECONDS
) -> tuple[list[OutgoingMail], list[str]]:
    """Claim up to `limit` due mails, oldest first, for `sender`; also expire overdue ones."""
    now = ctx.clock.now()
    with write_transaction():
        expired = _expire_overdue(ctx, now)
        query = (
            Outbox.select()
            .where(Outbox.status == "pending", Outbox.next_try_at <= now)
            .order_by(Outbox.id)
            .limit(limit)
        )
        rows = list(locked_skip(query))
        if rows:
            Outbox.update(
                next_try_at=now + timedelta(seconds=lease),
                claimed_by=sender or "-",
                attempts=Outbox.attempts + 1,
            ).where(Outbox.id.in_([r.id for r in rows])).execute()
    mails = [
        OutgoingMail(
            id=r.id,
            to=r.to_addr,
            subject=r.subject,
            text=r.text,
            html=r.html,
            headers=json.loads(r.headers),
            message_id=r.message_id,
            attempts=r.attempts + 1,
            flow=r.flow,
        )
        for r in rows
    ]
    return mails, expired


def renew(ctx: Context, sender: str, lease: float = LEASE_SECONDS) -> int:
    """Extend the leases `sender` holds; it calls this while a send is in progress."""
    until = ctx.clock.now() + timedelta(seconds=lease)
    with connection(), write_transaction():
        # A held row is skipped, not waited for: its holder (this sender's other thread
        # recording outcomes one row at a time in id order, with which one UPDATE here, taking
        # rows in table order, deadlocked; a deletion; a newer code) is about to end the claim.
        query = Outbox.select(Outbox.id).where(
            Outbox.status == "pending", Outbox.claimed_by == sender
        )
        ids = [row.id for row in locked_skip(query)]
        if not ids:
            return 0
        return Outbox.update(next_try_at=until).where(Outbox.id.in_(ids)).execute()


def record(ctx: Context, mail: OutgoingMail, result: DeliveryResult) -> str:
    """Store the outcome of one send; returns the mail's new status.

    Every refusal is retried, a 5xx too: SMTP calls it permanent, but the flow that made this
    mail has answered 2xx, so giving up would lose it silently. It ends `expired` with the relay's
    answer once what it carries has expired (tests/e2e/test_mail_faults.py)."""
    now = ctx.clock.now()
    with write_transaction():
        if result.error is None:
            Outbox.update(status="sent", sent_at=now, last_error=None, claimed_by=None).where(
                Outbox.id == mail.id
            ).execute()
            log.info(
                "mail sent id=%s flow=%s to=%s message-id=%s",
                mail.id,
                mail.flow,
                recipient(ctx.settings, mail.to),
                mail.message_id,
            )
            return "sent"
        row = Outbox.get_or_none(Outbox.id == mail.id)
        give_up_at = row.give_up_at if row is not None else None
        expired = give_up_at is not None and now >= give_up_at
        retry_at = now + backoff(mail.attempts, ctx.settings.mail_backoff_cap)
        if give_up_at is not None:
            retry_at = min(retry_at, give_up_at)
        Outbox.update(
            status="expired" if expired else "pending",
            next_try_at=retry_at,
            claimed_by=None,
            last_error=result.error[:2000],
        ).where(Outbox.id == mail.id).execute()
    error = reply(ctx.settings, result.error)
    if expired:
        log.warning("mail expired id=%s flow=%s: %s", mail.id, mail.flow, error)
        return "expired"
    # One line per failed attempt would flood the log during an outage; the sender says once
    # when SMTP goes away and comes back.
    log.debug("mail %s failed (attempt %s): %s", mail.id, mail.attempts, error)
    return "pending"


def wake_waiting(ctx: Context) -> int:
    """Make every mail waiting out a backoff due now: SMTP is back, so the backlog goes at once."""
    now = ctx.clock.now()
    with connection(), write_transaction():
        return (
            Outbox.update(next_try_at=now)
            .where(
                Outbox.status == "pending",
                Outbox.next_try_at > now,
                Outbox.claimed_by.is_null(),
            )
            .execute()
        )


def deliver_due(
    ctx: Context,
    transport: Transport,
    limit: int = 50,
    *,
    sender: str = "",
    lease: float = LEASE_SECONDS,
) -> DeliveryPass:
    """Deliver one batch of due mail. Runs in an executor thread."""
    with connection():
        batch, expired = claim_due(ctx, limit, sender=sender, lease=lease)
    if not batch:
        return DeliveryPass(expired=expired)
    results = {r.id: r for r in transport(batch)}
    outcomes = []
    with connection(), write_transaction():  # one commit per batch, not per mail
        for mail in batch:
            result = results.get(mail.id, DeliveryResult(mail.id, "not attempted"))
            # The outcome is logged under the id of the request that caused the mail.
            token = request_id.current.set(mail.headers.get(REQUEST_ID_HEADER))
            try:
                if record(ctx, mail, result) == "expired":
                    expired.append(mail.flow)
            finally:
                request_id.current.reset(token)
            outcomes.append((mail, result))
    return DeliveryPass(outcomes=outcomes, expired=expired)


PURGE_BATCH = 500


def purge(ctx: Context, *, batch: int = PURGE_BATCH) -> int:
    """Delete finished mail older than the retention; returns how many rows went.

    Pending mail is never touched. It deletes `batch` rows per transaction, so on SQLite the
    write lock is never held long, and any number of instances may purge at once."""
    cutoff = ctx.clock.now() - timedelta(seconds=ctx.settings.outbox_retention)
    finished = ((Outbox.status == "sent") & (Outbox.sent_at < cutoff)) | (
        Outbox.status.in_(("expired", "failed")) & (Outbox.next_try_at < cutoff)
    )
    deleted = 0
    with connection():
        while True:
            with write_transaction():
                oldest = Outbox.select(Outbox.id).where(finished).order_by(Outbox.id).limit(batch)
                count = Outbox.delete().where(Outbox.id.in_(oldest)).execute()
            deleted += count
            if count < batch:
                return deleted


def pending_count() -> int:
    with connection():
        return Outbox.select().where(Outbox.status == "pending").count()
