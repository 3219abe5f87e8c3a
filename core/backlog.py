"""The outbox seen from outside: what waits, what keeps failing, what expired, and a way to retry
now. Read by `acctkit outbox` and the metrics, so an outage of the mail relay is visible."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import redaction
from core.context import Context
from core.db import connection, write_transaction
from core.models import Outbox

UNSENT = ("pending", "expired", "failed")


@dataclass(frozen=True)
class Entry:
    id: int
    state: str  # pending (not tried yet or waiting), failing (tried and failed), expired, failed
    flow: str
    ref: str
    seq: int
    to: str  # masked: a listing is for counting and telling mails apart, not for reading them
    request_id: str | None
    created_at: datetime
    attempts: int
    next_try_at: datetime
    expires_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Stats:
    pending: int
    failing: int
    expired: int
    oldest_pending_age: float  # seconds; 0 with nothing pending


def _state(row: Outbox) -> str:
    if row.status == "pending":
        return "failing" if row.last_error else "pending"
    return str(row.status)


def entries(ctx: Context, *, limit: int = 200, states: Sequence[str] = ()) -> list[Entry]:
    """Unsent mail, oldest first."""
    with connection():
        rows = list(
            Outbox.select()
            .where(Outbox.status.in_(UNSENT))
            .order_by(Outbox.created_at, Outbox.id)
            .limit(limit)
        )
    found = [
        Entry(
            id=r.id,
            state=_state(r),
            flow=r.flow,
            ref=r.ref,
            seq=r.seq,
            to=redaction.address(r.to_addr),
            request_id=r.request_id,
            created_at=r.created_at,
            attempts=r.attempts,
            next_try_at=r.next_try_at,
            expires_at=r.expires_at,
            last_error=r.last_error,
        )
        for r in rows
    ]
    return [e for e in found if not states or e.state in states]


@dataclass(frozen=True)
class Retried:
    retried: list[int]
    refused: dict[int, str]  # id -> why not (sent already, its code or link expired, unknown)


def retry(ctx: Context, ids: Sequence[int] | None = None) -> Retried:
    """Make unsent mail due now (`ids`, or all of it when None). An expired notice gets a fresh
    retry period; a mail whose code or link has expired is not sent again: it would not work."""
    now = ctx.clock.now()
    fresh_period = now + timedelta(seconds=ctx.settings.notice_retry_period)
    retried: list[int] = []
    refused: dict[int, str] = {}
    with connection(), write_transaction():
        query = Outbox.select().where(Outbox.status.in_(UNSENT))
        if ids is not None:
            query = Outbox.select().where(Outbox.id.in_(list(ids)))
        rows = {r.id: r for r in query}
        for wanted in ids or []:
            if wanted not in rows:
                refused[wanted] = "no such mail"
        for row in rows.values():
            if row.status == "sent":
                refused[row.id] = "already sent"
            elif row.expires_at is not None and row.expires_at <= now:
                refused[row.id] = f"what it carries expired at {row.expires_at:%Y-%m-%d %H:%M:%S}Z"
            elif row.status == "pending" and row.claimed_by and row.next_try_at > now:
                refused[row.id] = "being sent right now"
            else:
                Outbox.update(
                    status="pending",
                    next_try_at=now,
                    claimed_by=None,
                    give_up_at=row.expires_at or max(row.give_up_at or now, fresh_period),
                ).where(Outbox.id == row.id).execute()
                retried.append(row.id)
    return Retried(sorted(retried), refused)


def stats(ctx: Context) -> Stats:
    now = ctx.clock.now()
    with connection():
        pending = Outbox.select().where(Outbox.status == "pending")
        failing = pending.where(Outbox.last_error.is_null(False)).count()
        oldest = pending.order_by(Outbox.created_at).first()
        expired = Outbox.select().where(Outbox.status.in_(("expired", "failed"))).count()
        return Stats(
            pending=pending.count(),
            failing=failing,
            expired=expired,
            oldest_pending_age=(now - oldest.created_at).total_seconds() if oldest else 0.0,
        )
