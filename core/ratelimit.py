"""Rate limits kept in the database (GCRA: one theoretical arrival time per key), so every
worker and every host shares them. `count` requests may burst; they refill over `period`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import errors
from core.context import Context
from core.db import locked, write_transaction
from core.models import RateLimit


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    period: float  # seconds

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.period / self.count)


LOGIN_PER_IP = Limit("login-ip", 30, 60)
LOGIN_FAILURES_PER_ACCOUNT = Limit("login-account", 10, 900)
SIGNUP_PER_IP = Limit("signup-ip", 50, 3600)
RESET_PER_IP = Limit("reset-ip", 10, 900)
RESET_PER_EMAIL = Limit("reset-email", 3, 900)


def _retry_after(allow_at: datetime, now: datetime) -> int:
    return max(1, math.ceil((allow_at - now).total_seconds()))


def hit(ctx: Context, limit: Limit, subject: str, *, consume: bool = True) -> int | None:
    """Count one request for `subject`; return seconds to wait if it is over the limit.

    With consume=False it only peeks (used to refuse a login before spending a hash on it).
    Call inside no transaction: it opens its own, short one.
    """
    if not ctx.settings.ratelimit:
        return None
    key = f"{limit.name}:{subject}"[:255]
    now = ctx.clock.now()
    period = timedelta(seconds=limit.period)
    with write_transaction():
        RateLimit.insert(key=key, tat=now).on_conflict_ignore().execute()
        row = locked(RateLimit.select().where(RateLimit.key == key)).get()
        tat = max(row.tat, now)
        new_tat = tat + limit.interval
        allow_at = new_tat - period
        if now < allow_at:
            return _retry_after(allow_at, now)
        if consume:
            RateLimit.update(tat=new_tat).where(RateLimit.key == key).execute()
    return None


def enforce(
    ctx: Context,
    limit: Limit,
    subject: str,
    error: type[errors.AccountError] = errors.Throttled,
) -> None:
    retry_after = hit(ctx, limit, subject)
    if retry_after is not None:
        raise error(f"Too many requests. Try again in {retry_after} s.", retry_after=retry_after)


def reset(ctx: Context, limit: Limit, subject: str) -> None:
    RateLimit.delete().where(RateLimit.key == f"{limit.name}:{subject}"[:255]).execute()
