"""Signup with an emailed code: start (pending, nothing reserved), verify (the account is created),
resend (a new code supersedes the old ones after a cooldown).

The code is generated once, inside the transaction that stores its hash and enqueues the mail
rendered from that same value; see DESIGN.md "Why the emailed code can never be wrong".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import codes, errors, mail, outbox, policy, ratelimit, users
from core.context import Context, is_issued_id
from core.db import connection, locked, write_transaction
from core.models import Signup, User
from core.sessions import NO_CLIENT, Client, issue_pair
from core.tokens import TokenPair

FLOW = "signup"
SIGNUP_TTL = timedelta(days=1)


@dataclass(frozen=True)
class SignupRequest:
    first_name: str
    last_name: str
    username: str
    email: str
    password: str


@dataclass(frozen=True)
class SignupStarted:
    signup_id: str
    email: str
    expires_at: datetime
    resend_after: datetime
    seq: int  # which code the mail carries (X-Acctkit-Seq), so clients need not count resends


@dataclass(frozen=True)
class CodeSent:
    expires_at: datetime
    resend_after: datetime
    seq: int


@dataclass(frozen=True)
class SignupVerified:
    user: users.UserView
    tokens: TokenPair


def validate(ctx: Context, request: SignupRequest) -> SignupRequest:
    """Return the request with whitespace trimmed where it is never meaningful, or raise
    InvalidInput with every problem of every field at once."""
    cleaned = SignupRequest(
        first_name=request.first_name.strip(),
        last_name=request.last_name.strip(),
        username=request.username.strip(),
        email=policy.normalise_email(request.email),
        password=request.password,
    )
    problems: policy.FieldErrors = {
        "first_name": policy.name_problems(cleaned.first_name),
        "last_name": policy.name_problems(cleaned.last_name),
        "username": policy.username_problems(cleaned.username),
        "email": policy.email_problems(cleaned.email),
        "password": policy.password_problems(
            cleaned.password,
            min_length=ctx.settings.password_min_length,
            username=cleaned.username,
            email=cleaned.email,
        ),
    }
    problems = {field: reasons for field, reasons in problems.items() if reasons}
    if problems:
        raise errors.InvalidInput(errors=problems)
    return cleaned


def _code_mail(ctx: Context, signup: Signup, issued: codes.IssuedCode) -> mail.Mail:
    return mail.code_mail(
        to=signup.email,
        name=signup.first_name,
        code=issued.code,
        flow=FLOW,
        ref=signup.id,
        seq=issued.seq,
        ttl=ctx.settings.code_ttl,
        expires_at=issued.expires_at,
        purpose="finish signing up",
    )


def start(ctx: Context, request: SignupRequest, *, ip: str = "") -> SignupStarted:
    request = validate(ctx, request)
    username_key = policy.casefold_key(request.username)
    email_key = policy.casefold_key(request.email)
    with connection():
        if ip:
            ratelimit.enforce(ctx, ratelimit.SIGNUP_PER_IP, ip)
        users.ensure_username_free(request.username)
        users.ensure_email_free(email_key)
    password_hash = ctx.passwords.hash(request.password)
    now = ctx.clock.now()
    with connection(), write_transaction():
        signup = Signup.create(
            id=ctx.random.token_urlsafe(16),
            first_name=request.first_name,
            last_name=request.last_name,
            username=request.username,
            username_key=username_key,
            email=request.email,
            email_key=email_key,
            password_hash=password_hash,
            created_at=now,
            expires_at=now + SIGNUP_TTL,
        )
        issued = codes.issue(ctx, FLOW, signup.id)
        outbox.enqueue(ctx, _code_mail(ctx, signup, issued))
    return SignupStarted(
        signup_id=signup.id,
        email=signup.email,
        expires_at=issued.expires_at,
        resend_after=now + timedelta(seconds=ctx.settings.resend_cooldown),
        seq=issued.seq,
    )


def _pending(ctx: Context, signup_id: str) -> Signup:
    if not is_issued_id(signup_id):
        raise errors.SignupNotFound()
    signup = locked(Signup.select().where(Signup.id == signup_id)).get_or_none()
    if signup is None or signup.verified_at is not None or ctx.clock.now() >= signup.expires_at:
        raise errors.SignupNotFound()
    return signup


def verify(
    ctx: Context, signup_id: str, code: str, *, client: Client = NO_CLIENT
) -> SignupVerified:
    with connection():
        with write_transaction():
            signup = _pending(ctx, signup_id)
            failure = codes.consume(ctx, signup, FLOW, code)
            if failure is None:
                user = _create_user(ctx, signup)
                return SignupVerified(
                    user=users.view(user), tokens=issue_pair(ctx, user, client=client)
                )
        raise failure  # after the commit, so the attempt count and any lock are kept


def _create_user(ctx: Context, signup: Signup) -> User:
    """The uniqueness checks of `start`, again, now backed by the unique indexes: of any number of
    signups racing for one username or email, exactly one wins."""
    users.ensure_username_free(signup.username)
    users.ensure_email_free(signup.email_key)
    now = ctx.clock.now()
    with users.unique_identity():
        user = User.create(
            username=signup.username,
            username_key=signup.username_key,
            username_skeleton=policy.skeleton(signup.username),
            email=signup.email,
            email_key=signup.email_key,
            first_name=signup.first_name,
            last_name=signup.last_name,
            password_hash=signup.password_hash,
            email_verified=True,
            date_joined=now,
            last_login=now,
        )
    signup.verified_at = now
    signup.user = user
    signup.save()
    return user


def resend(ctx: Context, signup_id: str) -> CodeSent:
    now = ctx.clock.now()
    with connection(), write_transaction():
        signup = _pending(ctx, signup_id)
        if signup.locked_at is not None:
            raise errors.TooManyAttempts("Too many wrong codes: start the signup again.")
        previous = codes.latest(FLOW, signup.id)
        cooldown = timedelta(seconds=ctx.settings.resend_cooldown)
        if previous is not None and now < previous.created_at + cooldown:
            wait = math.ceil((previous.created_at + cooldown - now).total_seconds())
            raise errors.ResendTooSoon(
                f"A code was sent moments ago. Try again in {wait} s.", retry_after=wait
            )
        issued = codes.issue(ctx, FLOW, signup.id)
        outbox.enqueue(ctx, _code_mail(ctx, signup, issued))
    return CodeSent(expires_at=issued.expires_at, resend_after=now + cooldown, seq=issued.seq)
