"""Rate limits kept in the database (GCRA: one theoretical arrival time per key), so every
worker and every host shares them. `count` requests may burst; they refill over `period`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from core import errors
from core.context import Context
from core.db import is_sqlite, locked, write_transaction
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
# Failed logins count against the identifier as typed, known or not, so the answers never tell
# which identifiers have accounts. Per identifier and client address: one noisy address cannot
# lock the owner out from another. Per identifier, every address together: the account-wide
# bound of NIST SP 800-63B 5.2.2 (at most 100 failures in a row; a success or a new password
# clears it). The budget refills over 30 days, one guess per 7.2 h: slow enough that the bound
# holds in practice, and no account is locked for good (a reset link always gets the owner in).
LOGIN_FAILURES_PER_IDENTIFIER_AND_IP = Limit("login-id-ip", 10, 900)
LOGIN_FAILURES_PER_IDENTIFIER = Limit("login-id", 100, 30 * 86400)
# Wrong passwords typed by a signed-in user confirming a change (core.reauth).
LOGIN_FAILURES_PER_ACCOUNT = Limit("login-account", 10, 900)
SIGNUP_PER_IP = Limit("signup-ip", 50, 3600)
RESET_PER_IP = Limit("reset-ip", 10, 900)
RESET_PER_EMAIL = Limit("reset-email", 3, 900)


def _retry_after(allow_at: datetime, now: datetime) -> int:
    return max(1, math.ceil((allow_at - now).total_seconds()))


def _key(limit: Limit, subject: str) -> str:
    return f"{limit.name}:{subject}"[:255]


Check = tuple[Limit, str]  # a limit and the subject it counts


def _wait(limit: Limit, tat: datetime, now: datetime) -> int | None:
    """Seconds until one more request fits under `limit` for a key at `tat`, or None if it
    fits now."""
    allow_at = max(tat, now) + limit.interval - timedelta(seconds=limit.period)
    return _retry_after(allow_at, now) if now < allow_at else None


def peek_all(ctx: Context, checks: Sequence[Check]) -> int | None:
    """The longest wait before one more request fits under every check; counts nothing.

    A plain read, no lock: used to refuse a login before spending a hash on it, so a flood of
    attempts does not queue on the database write lock just to be told no."""
    if not ctx.settings.ratelimit or not checks:
        return None
    limits = {_key(limit, subject): limit for limit, subject in checks}
    now = ctx.clock.now()
    rows = RateLimit.select().where(RateLimit.key.in_(list(limits)))
    waits = [w for row in rows if (w := _wait(limits[row.key], row.tat, now)) is not None]
    return max(waits, default=None)


def hit_all(ctx: Context, checks: Sequence[Check]) -> int | None:
    """Count one request under each check, in one short transaction; return the longest wait
    if any of them is over its limit (that one counts nothing; the others still count).

    Call inside no transaction: it opens its own.
    """
    if not ctx.settings.ratelimit or not checks:
        return None
    limits = {_key(limit, subject): limit for limit, subject in checks}
    now = ctx.clock.now()
    waits: list[int] = []
    with write_transaction():
        for key in limits:
            RateLimit.insert(key=key, tat=now).on_conflict_ignore().execute()
        query = RateLimit.select().where(RateLimit.key.in_(list(limits))).order_by(RateLimit.key)
        for row in list(locked(query)):
            limit = limits[row.key]
            wait = _wait(limit, row.tat, now)
            if wait is not None:
                waits.append(wait)
                continue
            new_tat = max(row.tat, now) + limit.interval
            RateLimit.update(tat=new_tat).where(RateLimit.key == row.key).execute()
    return max(waits, default=None)


def peek(ctx: Context, limit: Limit, subject: str) -> int | None:
    """Seconds to wait if one more request for `subject` would be over the limit (see
    `peek_all`)."""
    return peek_all(ctx, [(limit, subject)])


def hit(ctx: Context, limit: Limit, subject: str, *, consume: bool = True) -> int | None:
    """Count one request for `subject`; return seconds to wait if it is over the limit (and then
    count nothing). With consume=False it only peeks (see `peek_all`)."""
    checks = [(limit, subject)]
    return hit_all(ctx, checks) if consume else peek_all(ctx, checks)


def enforce(
    ctx: Context,
    limit: Limit,
    subject: str,
    error: type[errors.AccountError] = errors.Throttled,
) -> None:
    retry_after = hit(ctx, limit, subject)
    if retry_after is not None:
        raise error(f"Too many requests. Try again in {retry_after} s.", retry_after=retry_after)


def reset_all(ctx: Context, checks: Sequence[Check]) -> None:
    """Forget what each check counted (call inside a write transaction). With rate limits off
    nothing is counted, so nothing is cleared either."""
    if not ctx.settings.ratelimit or not checks:
        return
    _delete(RateLimit.key.in_([_key(limit, s) for limit, s in checks]))


def reset(ctx: Context, limit: Limit, subject: str) -> None:
    _delete(RateLimit.key == _key(limit, subject))


def forget(ctx: Context, checks: Sequence[Check], prefixes: Sequence[Check] = ()) -> None:
    """Forget the `checks`, and every subject of each prefix check that starts with its subject
    (which must not contain SQL LIKE wildcards: callers pass hex digests), in one go. Call inside
    a write transaction."""
    condition: peewee.Expression = RateLimit.key.in_([_key(limit, s) for limit, s in checks])
    for limit, prefix in prefixes:
        condition = condition | RateLimit.key.startswith(_key(limit, prefix))
    _delete(condition)


def _delete(condition: peewee.Expression) -> None:
    """Delete the matching rows, on PostgreSQL after locking them in key order, the order
    `hit_all` locks in. A DELETE takes its rows in whatever order its plan visits them, and
    clearing a login's failures (identifier row, then its per-address rows) while a failed
    login of the same identifier locked them the other way round was a deadlock."""
    if not is_sqlite():
        query = RateLimit.select(RateLimit.key).where(condition).order_by(RateLimit.key)
        keys = [key for (key,) in locked(query).tuples()]
        if not keys:
            return
        condition = RateLimit.key.in_(keys)
    RateLimit.delete().where(condition).execute()
