"""Records that have ended, deleted once they are kept no longer (`purge`).

Every login leaves a `Login` and a refresh token, every refresh one more token, every signup,
email change and reset link a row and its codes, and every address and identifier that met a
rate limit a row of its own. Without this module they would all stay for ever: a busy service's
tables would grow with every request, and each signup's row keeps a copy of a password hash.

A record is deleted `record_retention` seconds (7 days by default) after it stopped counting:

- a refresh token after it expires (a spent one is kept until then: presenting it again is how
  reuse is detected);
- a login once none of its refresh tokens is left and its last access token has expired too
  (an access token names its login, and one whose login is gone is refused, as when revoked);
- a signup, an email change or a reset link after it expires, and with a signup or an email
  change, its codes. Until then a late code or link is still told "expired", not "unknown";
- a rate-limit row after its theoretical arrival time: from then on it limits nothing, as if
  the key had never been seen.

Nothing a person can still use is touched. `purge` deletes in batches, one short transaction
each, so SQLite's write lock is never held long, and rows another instance is deleting are
skipped (PostgreSQL), so any number of instances may purge at once.

Known window: a rate-limit row unused for the whole retention and hit again in the instant it
is being deleted may lose that one hit (the same window `ratelimit.reset` has always had).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import timedelta

import peewee

from core import email_change, signup
from core.context import Context
from core.db import connection, locked_skip, write_transaction
from core.models import (
    BaseModel,
    Code,
    EmailChange,
    Login,
    PasswordReset,
    RateLimit,
    RefreshToken,
    Signup,
)

PURGE_BATCH = 500


@dataclass(frozen=True)
class Purged:
    """How many rows of each kind one `purge` deleted."""

    refresh_tokens: int = 0
    logins: int = 0
    signups: int = 0
    email_changes: int = 0
    password_resets: int = 0
    codes: int = 0
    rate_limits: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def __str__(self) -> str:
        counts = [(f.name.replace("_", " "), getattr(self, f.name)) for f in fields(self)]
        return ", ".join(f"{count} {name}" for name, count in counts if count) or "nothing"


def purge(ctx: Context, *, batch: int = PURGE_BATCH) -> Purged:
    """Delete every record that ended more than `record_retention` seconds ago."""
    now = ctx.clock.now()
    cutoff = now - timedelta(seconds=ctx.settings.record_retention)
    access_cutoff = cutoff - timedelta(seconds=ctx.settings.access_ttl)
    codes = _Counter()
    with connection():
        # Tokens first: a login goes only once the last of its tokens has gone.
        refresh_tokens = _delete(
            RefreshToken, RefreshToken.jti, RefreshToken.expires_at < cutoff, batch
        )
        no_token_left = ~peewee.fn.EXISTS(
            RefreshToken.select(RefreshToken.jti).where(RefreshToken.family == Login.id)
        )
        logins = _delete(
            Login, Login.id, no_token_left & (Login.last_used_at < access_cutoff), batch
        )
        signups = _delete(
            Signup, Signup.id, Signup.expires_at < cutoff, batch, codes.of(signup.FLOW)
        )
        email_changes = _delete(
            EmailChange,
            EmailChange.id,
            EmailChange.expires_at < cutoff,
            batch,
            codes.of(email_change.FLOW),
        )
        password_resets = _delete(
            PasswordReset, PasswordReset.id, PasswordReset.expires_at < cutoff, batch
        )
        rate_limits = _delete(RateLimit, RateLimit.key, RateLimit.tat < cutoff, batch)
    return Purged(
        refresh_tokens=refresh_tokens,
        logins=logins,
        signups=signups,
        email_changes=email_changes,
        password_resets=password_resets,
        codes=codes.deleted,
        rate_limits=rate_limits,
    )


class _Counter:
    """Deletes the codes of the rows being deleted, and counts them."""

    def __init__(self) -> None:
        self.deleted = 0

    def of(self, flow: str) -> Callable[[list[str]], None]:
        def delete_codes(refs: list[str]) -> None:
            query = Code.delete().where(Code.flow == flow, Code.ref.in_(refs))
            self.deleted += query.execute()

        return delete_codes


def _delete(
    model: type[BaseModel],
    key: peewee.Field,
    ended: peewee.Expression,
    batch: int,
    along: Callable[[list[str]], None] | None = None,
) -> int:
    """Delete the rows of `model` that match `ended`, `batch` per transaction; `along` deletes
    what belongs to each batch in the same transaction.

    The search for ended rows (a scan where `ended` has no index) runs before the transaction,
    so SQLite's write lock is held only for lookups and deletes by key; `ended` is asked again
    inside it, so a row used meanwhile (a rate limit hit again) stays."""
    deleted = 0
    while True:
        found = [row[0] for row in model.select(key).where(ended).limit(batch).tuples()]
        if not found:
            return deleted
        with write_transaction():
            query = model.select(key).where(key.in_(found) & ended)
            keys = [row[0] for row in locked_skip(query).tuples()]
            if keys:
                if along is not None:
                    along(keys)
                deleted += model.delete().where(key.in_(keys)).execute()
        if len(found) < batch or not keys:  # the last batch, or the rest is another's to delete
            return deleted
