"""Changing a user's email address: the password is confirmed, a code goes to the NEW address
(the same code life cycle as signup, flow `email-change`), and only the code switches the address;
the OLD address then gets a notice without any secret in it.

A user has at most one pending change. A second request reuses it: it may name another address,
and its new code supersedes every earlier one, so an older code answers `code_superseded` whichever
address it was mailed to. The attempt count carries over (switching the target does not buy new
guesses), and the resend cooldown applies to every request after the first. A change locked by
wrong codes can be replaced by a fresh one once ACCTKIT_CODE_TTL has passed since the lock.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta

from core import codes, errors, mail, outbox, policy, reauth, reset, users
from core.context import Context
from core.db import connection, locked, write_transaction
from core.models import Code, EmailChange, User
from core.signup import CodeSent

FLOW = "email-change"
CHANGE_TTL = timedelta(days=1)


def _locked_user(user_id: int) -> User:
    user = locked(User.select().where(User.id == user_id)).get_or_none()
    if user is None:
        raise errors.TokenInvalid("The user of this token no longer exists.")
    return user


def _pending(ctx: Context, user: User) -> EmailChange | None:
    query = (
        EmailChange.select()
        .where(
            EmailChange.user == user.id,
            EmailChange.verified_at.is_null(),
            EmailChange.expires_at > ctx.clock.now(),
        )
        .order_by(EmailChange.created_at.desc())
    )
    return locked(query).first()


def _wait(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def discard_unverified(user_id: int) -> None:
    """Delete a user's unconfirmed changes and their codes (inside a write transaction that has
    locked the user). Each change is locked before its codes go, as the retention purge takes
    them, so the two never deadlock."""
    query = EmailChange.select(EmailChange.id).where(
        EmailChange.user == user_id, EmailChange.verified_at.is_null()
    )
    ids = [c.id for c in locked(query)]
    if ids:
        Code.delete().where(Code.flow == FLOW, Code.ref.in_(ids)).execute()
        EmailChange.delete().where(EmailChange.id.in_(ids)).execute()


def request(ctx: Context, user_id: int, email: str, password: str) -> CodeSent:
    """Start (or renew) a change to `email` and mail a code there. Hashes: run in the hash pool."""
    email = policy.normalise_email(email)
    problems = policy.email_problems(email)
    if problems:
        raise errors.InvalidInput(errors={"email": problems})
    key = policy.casefold_key(email)
    confirmed_hash = reauth.confirm_password(ctx, user_id, password)
    now = ctx.clock.now()
    cooldown = timedelta(seconds=ctx.settings.resend_cooldown)
    with connection(), write_transaction():
        user = _locked_user(user_id)
        if user.password_hash != confirmed_hash:
            raise errors.WrongPassword("The password was changed meanwhile.")
        if key == user.email_key:
            raise errors.InvalidInput(errors={"email": ["This is already your email address."]})
        users.ensure_email_free(key, except_user=user.id)
        change = _pending(ctx, user)
        if change is not None and change.locked_at is not None:
            unlock_at = change.locked_at + timedelta(seconds=ctx.settings.code_ttl)
            if now < unlock_at:
                wait = _wait(unlock_at, now)
                raise errors.TooManyAttempts(
                    f"Too many wrong codes. Try again in {wait} s.", retry_after=wait
                )
            change = None
        if change is None:
            discard_unverified(user.id)
            change = EmailChange.create(
                id=ctx.random.token_urlsafe(16),
                user=user.id,
                email=email,
                email_key=key,
                created_at=now,
                expires_at=now + CHANGE_TTL,
            )
        else:
            previous = codes.latest(FLOW, change.id)
            if previous is not None and now < previous.created_at + cooldown:
                wait = _wait(previous.created_at + cooldown, now)
                raise errors.ResendTooSoon(
                    f"A code was sent moments ago. Try again in {wait} s.", retry_after=wait
                )
            change.email = email
            change.email_key = key
            change.expires_at = now + CHANGE_TTL
            change.save()
        issued = codes.issue(ctx, FLOW, change.id)
        outbox.enqueue(ctx, _code_mail(ctx, user, change, issued), user=user)
    return CodeSent(expires_at=issued.expires_at, resend_after=now + cooldown, seq=issued.seq)


def verify(ctx: Context, user_id: int, code: str) -> users.UserView:
    """Switch the address if `code` is the live code of the user's pending change."""
    with connection():
        with write_transaction():
            user = _locked_user(user_id)
            change = _pending(ctx, user)
            if change is None:
                raise errors.EmailChangeNotFound()
            failure = codes.consume(ctx, change, FLOW, code)
            if failure is None:
                return _switch(ctx, user, change)
        raise failure  # after the commit, so the attempt count and any lock are kept


def _switch(ctx: Context, user: User, change: EmailChange) -> users.UserView:
    """Checked again here, and backed by the unique index: another account may have taken the
    address since the code was mailed."""
    users.ensure_email_free(change.email_key, except_user=user.id)
    old_email = user.email
    user.email = change.email
    user.email_key = change.email_key
    user.email_verified = True
    with users.unique_identity():
        user.save()
    change.verified_at = ctx.clock.now()
    change.save()
    # A reset link mailed to the old address must not outlive the change (Django hashes the
    # email into its reset tokens for the same reason).
    reset.invalidate_outstanding(user.id, change.verified_at)
    used = codes.latest(FLOW, change.id)
    notice = mail.notice_mail(
        to=old_email,
        name=user.first_name or user.username,
        subject="Your acctkit email address was changed",
        lines=[
            f"The email address of your acctkit account {user.username} was changed "
            f"from {old_email} to {user.email}.",
            "If you did not do this, reset your password at once.",
        ],
        flow=FLOW,
        ref=change.id,
    )
    seq = used.seq if used is not None else 1
    outbox.enqueue(ctx, dataclasses.replace(notice, seq=seq), user=user)
    return users.view(user)


def _code_mail(
    ctx: Context, user: User, change: EmailChange, issued: codes.IssuedCode
) -> mail.Mail:
    return mail.code_mail(
        to=change.email,
        name=user.first_name or user.username,
        code=issued.code,
        flow=FLOW,
        ref=change.id,
        seq=issued.seq,
        ttl=ctx.settings.code_ttl,
        expires_at=issued.expires_at,
        purpose="confirm this as the new email address of your acctkit account",
    )
