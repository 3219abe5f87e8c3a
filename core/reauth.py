"""Re-authentication: a signed-in user confirms their password before a change that a stolen
access token alone must not be able to make (a new email address, deleting the account).

Wrong passwords here count against the same per-account budget as failed logins, so these routes
are no better a password-guessing oracle than the login route.
"""

from __future__ import annotations

from core import errors, ratelimit, users
from core.context import Context
from core.db import connection


def confirm_password(ctx: Context, user_id: int, password: str) -> str:
    """Check `password` (argon2, so call off the event loop, outside any transaction) and return
    the hash it was checked against: the caller compares it again under its row lock, so a
    password changed in between does not count as confirmed."""
    subject = str(user_id)
    with connection():
        user = users.get(user_id)
        retry = ratelimit.hit(ctx, ratelimit.LOGIN_FAILURES_PER_ACCOUNT, subject, consume=False)
        if retry is not None:
            raise errors.TooManyAttempts(
                f"Too many wrong passwords for this account. Try again in {retry} s.",
                retry_after=retry,
            )
    if not ctx.passwords.verify(user.password_hash, password):
        with connection():
            ratelimit.hit(ctx, ratelimit.LOGIN_FAILURES_PER_ACCOUNT, subject)
        raise errors.WrongPassword()
    return user.password_hash
