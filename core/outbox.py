"""Mail that must not be lost: enqueued in the caller's transaction, delivered later with retries.

`deliver_due` is the whole sender: claim due rows (SKIP LOCKED on PostgreSQL, the write lock on
SQLite, so any number of senders deliver each mail once), send them outside any transaction, then
record the outcome. A claimed row gets a lease (next_try_at in the future), so a sender that dies
mid-send only delays the mail.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.utils import make_msgid, parseaddr

from core.context import Context
from core.db import connection, locked_skip, write_transaction
from core.mail import Mail
from core.models import Outbox, User

log = logging.getLogger(__name__)

LEASE_SECONDS = 120
MAX_ATTEMPTS = 12
BACKOFF_CAP_SECONDS = 900


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


@dataclass(frozen=True)
class DeliveryResult:
    id: int
    error: str | None = None


Transport = Callable[[Sequence[OutgoingMail]], list[DeliveryResult]]


def enqueue(ctx: Context, mail: Mail, *, user: User | None = None) -> int:
    """Store `mail` for delivery. Call inside the transaction that stores what the mail carries."""
    now = ctx.clock.now()
    domain = parseaddr(ctx.settings.mail_from)[1].rpartition("@")[2] or "localhost"
    row = Outbox.create(
        user=user,
        to_addr=mail.to,
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        headers=json.dumps(mail.headers),
        message_id=make_msgid(domain=domain),
        flow=mail.flow,
        ref=mail.ref,
        seq=mail.seq,
        next_try_at=now,
        created_at=now,
    )
    log.info(
        "mail queued id=%s flow=%s ref=%s seq=%s to=%s",
        row.id,
        mail.flow,
        mail.ref,
        mail.seq,
        mail.to,
    )
    return row.id


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: 2, 4, 8 ... seconds, capped at 15 minutes."""
    base = min(2**attempts, BACKOFF_CAP_SECONDS)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


def claim_due(ctx: Context, limit: int = 50) -> list[OutgoingMail]:
    now = ctx.clock.now()
    with write_transaction():
        query = (
            Outbox.select()
            .where(Outbox.status == "pending", Outbox.next_try_at <= now)
            .order_by(Outbox.next_try_at, Outbox.id)
            .limit(limit)
        )
        rows = list(locked_skip(query))
        if not rows:
            return []
        lease = now + timedelta(seconds=LEASE_SECONDS)
        Outbox.update(next_try_at=lease, attempts=Outbox.attempts + 1).where(
            Outbox.id.in_([r.id for r in rows])
        ).execute()
    return [
        OutgoingMail(
            id=r.id,
            to=r.to_addr,
            subject=r.subject,
            text=r.text,
            html=r.html,
            headers=json.loads(r.headers),
            message_id=r.message_id,
            attempts=r.attempts + 1,
        )
        for r in rows
    ]


def record(ctx: Context, mail: OutgoingMail, result: DeliveryResult) -> None:
    now = ctx.clock.now()
    with write_transaction():
        if result.error is None:
            Outbox.update(status="sent", sent_at=now, last_error=None).where(
                Outbox.id == mail.id
            ).execute()
            log.info("mail sent id=%s to=%s message-id=%s", mail.id, mail.to, mail.message_id)
            return
        gave_up = mail.attempts >= MAX_ATTEMPTS
        Outbox.update(
            status="failed" if gave_up else "pending",
            next_try_at=now + backoff(mail.attempts),
            last_error=result.error[:2000],
        ).where(Outbox.id == mail.id).execute()
    level = logging.ERROR if gave_up else logging.WARNING
    log.log(
        level,
        "mail %s to %s failed (attempt %s): %s",
        mail.id,
        mail.to,
        mail.attempts,
        result.error,
    )


def deliver_due(ctx: Context, transport: Transport, limit: int = 50) -> int:
    """Deliver one batch of due mail; return how many were claimed. Runs in an executor thread."""
    with connection():
        batch = claim_due(ctx, limit)
    if not batch:
        return 0
    results = {r.id: r for r in transport(batch)}
    with connection():
        for mail in batch:
            record(ctx, mail, results.get(mail.id, DeliveryResult(mail.id, "not attempted")))
    return len(batch)


def pending_count() -> int:
    with connection():
        return Outbox.select().where(Outbox.status == "pending").count()
