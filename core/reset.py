"""Choosing a new password: by a mailed link (`request`, `check`, `confirm`) or, signed in, by
knowing the current one (`change_password`). Both end in `_set_password`, so either way every
login dies, every outstanding link dies and the owner gets a "your password was changed" mail.

Reset links, reasoned as Django's contrib/auth/tokens.py reasons, with state instead of a
stateless token:
- The UID is 256 bits from `secrets`; only HMAC-SHA256(secret key, purpose + UID) is stored. A
  database leak yields no working link, and the purpose prefix keeps these digests apart from every
  other use of the same key (Django's `key_salt`). Rows are found by that digest through a unique
  index, so there is no comparison of secrets whose timing could leak.
- Django makes a token die when the password changes by hashing the password into it; here the
  row records it: `used_at` (single use), `invalidated_at` (a newer request, or a password change by
  any route). Unlike Django's tokens, a newer request kills the older links at once.
- Expiry is judged by the injected server clock, never by anything the client sends.
- A GET of the link only reads (mail scanners open links before people do); only `confirm`
  consumes it, and two racing confirms serialize on the row, so exactly one succeeds.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import errors, mail, outbox, policy, ratelimit, reauth, users
from core.context import Context
from core.db import connection, locked, write_transaction
from core.models import PasswordReset, User
from core.sessions import NO_CLIENT, Client, forget_failed_logins, issue_pair, revoke_all
from core.tokens import TokenPair

FLOW = "password-reset"
NOTICE_FLOW = "password-changed"
UID_BYTES = 32  # 256 bits; the contract asks for at least 128
UID_MAX_LENGTH = 64  # token_urlsafe(32) is 43 characters; anything much longer is not ours
_PURPOSE = b"acctkit.core.reset:"
# A reset request is answered no sooner than this after it arrives, known address or not. The
# two paths do the same lookups and limits, but only a known address builds and inserts two rows
# (about a millisecond of Python and SQLite work), which a patient client could measure; a floor
# well above both hides it at no CPU cost. Applied by the server, which can wait without a thread.
REQUEST_FLOOR_SECONDS = 0.1
REQUESTED_DETAIL = (
    "If an account uses that email address, a link to choose a new password is on its way. "
    "It works once, for a few minutes."
)


@dataclass(frozen=True)
class ResetRequested:
    detail: str


@dataclass(frozen=True)
class ResetStatus:
    valid: bool
    expires_at: datetime


def keyed_hash(ctx: Context, uid: str) -> str:
    return hmac.new(ctx.code_key, _PURPOSE + uid.encode(), hashlib.sha256).hexdigest()


def _digest_or_invalid(ctx: Context, uid: object) -> str:
    if not isinstance(uid, str) or not uid or len(uid) > UID_MAX_LENGTH:
        raise errors.ResetInvalid()
    return keyed_hash(ctx, uid)


def _usable(reset: PasswordReset | None, now: datetime) -> PasswordReset:
    """The reset, if its link can be used now; otherwise raise why not.

    Most permanent fact first: unknown (404), used (409), replaced (404), then expired (410). A used
    link that has also expired says "used", which is the truer and more useful answer.
    """
    if reset is None:
        raise errors.ResetInvalid()
    if reset.used_at is not None:
        raise errors.ResetUsed()
    if reset.invalidated_at is not None:
        raise errors.ResetInvalid(
            "This password reset link was replaced by a newer one, or the password was changed "
            "since. Use the link from the latest mail."
        )
    if now >= reset.expires_at:
        raise errors.ResetExpired()
    return reset


def invalidate_outstanding(user_id: int, now: datetime) -> int:
    """Kill every live link of the user. Call inside a write transaction; also meant for flows
    that change what a link was sent to (an email change)."""
    return (
        PasswordReset.update(invalidated_at=now)
        .where(
            PasswordReset.user == user_id,
            PasswordReset.used_at.is_null(),
            PasswordReset.invalidated_at.is_null(),
        )
        .execute()
    )


def request(ctx: Context, email: str, *, ip: str = "") -> ResetRequested:
    """Mail a reset link if the address belongs to a user; answer the same either way.

    Known and unknown addresses run the same steps (both limits, a fresh UID and its digest, one
    write transaction with the same lookup and update); only the two inserts differ, delivery
    happens after the response, and the server answers no sooner than REQUEST_FLOOR_SECONDS, so
    timing does not tell which addresses have accounts. The per-address limit counts unknown
    addresses too, so a 429 tells nothing either.
    """
    email = policy.normalise_email(email)
    problems = policy.email_problems(email)
    if problems:
        raise errors.InvalidInput(errors={"email": problems})
    key = policy.casefold_key(email)
    uid = ctx.random.token_urlsafe(UID_BYTES)
    digest = keyed_hash(ctx, uid)
    reset_id = ctx.random.token_urlsafe(16)
    with connection():
        if ip:
            ratelimit.enforce(ctx, ratelimit.RESET_PER_IP, ip)
        ratelimit.enforce(ctx, ratelimit.RESET_PER_EMAIL, key)
        now = ctx.clock.now()
        with write_transaction():
            # Locking the user serializes two requests for one account, so the newer always
            # invalidates the older link, even on PostgreSQL's READ COMMITTED.
            user = locked(User.select().where(User.email_key == key)).get_or_none()
            invalidate_outstanding(user.id if user is not None else 0, now)
            if user is not None:
                ttl = ctx.settings.reset_ttl
                created = PasswordReset.create(
                    id=reset_id,
                    user=user.id,
                    uid_hash=digest,
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl),
                )
                link = f"{ctx.settings.public_url}/reset-password/{uid}"
                outbox.enqueue(
                    ctx,
                    mail.reset_mail(
                        to=user.email,
                        name=_name(user),
                        link=link,
                        ref=reset_id,
                        ttl=ttl,
                        expires_at=created.expires_at,
                    ),
                    user=user,
                )
    return ResetRequested(detail=REQUESTED_DETAIL)


def check(ctx: Context, uid: str) -> ResetStatus:
    """Is this link usable? Reads only: a GET must never consume a link."""
    digest = _digest_or_invalid(ctx, uid)
    with connection():
        reset = _usable(
            PasswordReset.get_or_none(PasswordReset.uid_hash == digest), ctx.clock.now()
        )
    return ResetStatus(valid=True, expires_at=reset.expires_at)


def confirm(ctx: Context, uid: str, new_password: str, re_new_password: str) -> None:
    """Set the password chosen through a reset link. Run in the hashing pool.

    Order of refusals: the link first (404, 409, 410), since no password typed into a dead link
    can succeed; then the two fields differing (400 password_mismatch); then the policy (400
    invalid). The link is checked again, locked, after the slow hash, so a link used meanwhile
    by a racing confirm answers 409 and exactly one confirm wins.
    """
    digest = _digest_or_invalid(ctx, uid)
    with connection():
        reset = _usable(
            PasswordReset.get_or_none(PasswordReset.uid_hash == digest), ctx.clock.now()
        )
        found = User.get_or_none(User.id == reset.user_id)
    if found is None:  # deleted since the link was read, and its links with it
        raise errors.ResetInvalid()
    if new_password != re_new_password:
        raise errors.PasswordMismatch(
            errors={"re_new_password": ["The two passwords do not match."]}
        )
    _check_policy(ctx, found, new_password)
    new_hash = ctx.passwords.hash(new_password)
    with connection(), write_transaction():
        now = ctx.clock.now()
        # The user before the link, as every path that locks both (deleting the account deletes
        # its links under the user's lock), so PostgreSQL never deadlocks.
        user = locked(User.select().where(User.id == found.id)).get_or_none()
        if user is None:
            raise errors.ResetInvalid()
        query = locked(PasswordReset.select().where(PasswordReset.uid_hash == digest))
        reset = _usable(query.get_or_none(), now)
        reset.used_at = now
        reset.save()
        _set_password(ctx, user, new_hash, ref=reset.id, how="with a password reset link")


def change_password(
    ctx: Context,
    user_id: int,
    token_version: int,
    current_password: str,
    new_password: str,
    *,
    client: Client = NO_CLIENT,
) -> TokenPair:
    """Change the password of a signed-in user who knows the current one. Run in the hashing pool.

    Returns a new login; every other one, and the access token this request came with, dies.
    The policy is checked before the current password (cheap before slow, as in `confirm`);
    wrong current passwords count against the failed-login budget (core.reauth).
    """
    with connection():
        user = users.get(user_id)
    _check_policy(ctx, user, new_password)
    checked_hash = reauth.confirm_password(ctx, user_id, current_password)
    new_hash = ctx.passwords.hash(new_password)
    with connection(), write_transaction():
        user = locked(User.select().where(User.id == user_id)).get_or_none()
        if user is None or user.token_version != token_version:
            # Another password change or a logout-all won the race; this token is dead now.
            raise errors.TokenInvalid("Token was revoked.")
        if user.password_hash != checked_hash:
            raise errors.WrongPassword("The password changed while this request was checked.")
        _set_password(
            ctx, user, new_hash, ref=ctx.random.token_urlsafe(16), how="from a signed-in session"
        )
        return issue_pair(ctx, user, client=client)


def _name(user: User) -> str:
    return user.first_name or user.username


def _check_policy(ctx: Context, user: User, new_password: str) -> None:
    problems = policy.password_problems(
        new_password,
        min_length=ctx.settings.password_min_length,
        username=user.username,
        email=user.email,
    )
    if problems:
        raise errors.InvalidInput(errors={"new_password": problems})


def _set_password(ctx: Context, user: User, new_hash: str, *, ref: str, how: str) -> None:
    """Store the hash and end everything the old password opened. Inside a write transaction
    that has locked the user."""
    now = ctx.clock.now()
    User.update(password_hash=new_hash).where(User.id == user.id).execute()
    user.password_hash = new_hash
    revoke_all(ctx, user)
    forget_failed_logins(ctx, user)
    invalidate_outstanding(user.id, now)
    when = now.strftime("%Y-%m-%d %H:%M UTC")
    notice = mail.notice_mail(
        to=user.email,
        name=_name(user),
        subject="Your acctkit password was changed",
        lines=[
            f"The password of your acctkit account ({user.username}) was changed {how} at {when}.",
            "Every device that was signed in has been signed out.",
            "If this was you, there is nothing more to do. If it was not, ask for a password "
            "reset at once and tell your administrator.",
        ],
        flow=NOTICE_FLOW,
        ref=ref,
    )
    outbox.enqueue(ctx, notice, user=user)
