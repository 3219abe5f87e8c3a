"""Logins: issuing token pairs, refresh rotation with reuse detection, revocation.

A login is a refresh-token *family*. Each refresh spends its token and issues a child; presenting
a spent token again means it was stolen or raced, so the whole family is revoked (SimpleJWT's
rotation plus OAuth 2.0 BCP reuse detection). Access tokens carry the user's `token_version`;
bumping it kills every access token at once with one indexed read per check.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import errors, ratelimit, tokens, users
from core.context import Context
from core.db import connection, locked, write_transaction
from core.models import RefreshToken, User
from core.tokens import TokenPair


@dataclass(frozen=True)
class AuthenticatedUser:
    id: int
    token_version: int


def issue_pair(
    ctx: Context, user: User, *, family: str | None = None, parent: str | None = None
) -> TokenPair:
    """Store a new refresh token (a new login unless `family` is given) and sign both tokens.
    Call inside a write transaction."""
    jti = ctx.random.token_urlsafe(24)
    family = family or jti
    refresh, expires_at = tokens.encode(
        ctx,
        typ="refresh",
        user_id=user.id,
        token_version=user.token_version,
        jti=jti,
        family=family,
    )
    RefreshToken.create(
        jti=jti,
        user=user.id,
        family=family,
        parent=parent,
        created_at=ctx.clock.now(),
        expires_at=expires_at,
    )
    access, _ = tokens.encode(
        ctx,
        typ="access",
        user_id=user.id,
        token_version=user.token_version,
        jti=ctx.random.token_urlsafe(16),
    )
    return TokenPair(access=access, refresh=refresh)


def login(ctx: Context, identifier: str, password: str, *, ip: str = "") -> TokenPair:
    """Check a password and start a login. Unknown users cost one real argon2 verification too,
    so timing does not tell which usernames exist."""
    with connection():
        if ip:
            ratelimit.enforce(ctx, ratelimit.LOGIN_PER_IP, ip, errors.TooManyAttempts)
        user = users.find_by_login(identifier)
        account = f"{user.id}" if user else ""
        if user is not None:
            retry = ratelimit.hit(ctx, ratelimit.LOGIN_FAILURES_PER_ACCOUNT, account, consume=False)
            if retry is not None:
                raise errors.TooManyAttempts(
                    f"Too many failed logins for this account. Try again in {retry} s.",
                    retry_after=retry,
                )
    if user is None:
        ctx.passwords.verify_dummy(password)
        raise errors.InvalidCredentials()
    if not ctx.passwords.verify(user.password_hash, password):
        with connection():
            ratelimit.hit(ctx, ratelimit.LOGIN_FAILURES_PER_ACCOUNT, account)
        raise errors.InvalidCredentials()
    rehash = ctx.passwords.needs_rehash(user.password_hash)
    new_hash = ctx.passwords.hash(password) if rehash else None
    with connection(), write_transaction():
        user = locked(User.select().where(User.id == user.id)).get_or_none()
        if user is None:
            raise errors.InvalidCredentials()
        user.last_login = ctx.clock.now()
        if new_hash is not None:
            user.password_hash = new_hash
        user.save()
        return issue_pair(ctx, user)


def refresh(ctx: Context, refresh_token: str) -> TokenPair:
    claims = tokens.decode(ctx, refresh_token, "refresh")
    now = ctx.clock.now()
    with connection():
        with write_transaction():
            row = locked(RefreshToken.select().where(RefreshToken.jti == claims.jti)).get_or_none()
            user = User.get_or_none(User.id == claims.user_id)
            if row is None or user is None or row.revoked_at is not None:
                raise errors.TokenInvalid("Token is revoked or unknown.")
            if user.token_version != claims.token_version:
                raise errors.TokenInvalid("Token was revoked by a logout or password change.")
            if row.spent_at is None:
                row.spent_at = now
                row.save()
                return issue_pair(ctx, user, family=row.family, parent=row.jti)
            _revoke_family(row.family, now)
        # Committed the revocation above; only now report the reuse.
        raise errors.TokenReused()


def _revoke_family(family: str, now) -> int:  # type: ignore[no-untyped-def]
    return (
        RefreshToken.update(revoked_at=now)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_null())
        .execute()
    )


def revoke(ctx: Context, refresh_token: str) -> None:
    """Log out of one login: every token of the refresh token's family stops working."""
    claims = tokens.decode(ctx, refresh_token, "refresh")
    with connection(), write_transaction():
        row = locked(RefreshToken.select().where(RefreshToken.jti == claims.jti)).get_or_none()
        if row is None or row.revoked_at is not None:
            raise errors.TokenInvalid("Token is revoked or unknown.")
        _revoke_family(row.family, ctx.clock.now())


def revoke_all(ctx: Context, user: User) -> None:
    """Every access and refresh token of `user` dies at once. Call inside a write transaction."""
    User.update(token_version=User.token_version + 1).where(User.id == user.id).execute()
    user.token_version += 1
    RefreshToken.update(revoked_at=ctx.clock.now()).where(
        RefreshToken.user == user.id, RefreshToken.revoked_at.is_null()
    ).execute()


def logout_all(ctx: Context, user_id: int) -> None:
    with connection(), write_transaction():
        user = locked(User.select().where(User.id == user_id)).get_or_none()
        if user is None:
            raise errors.TokenInvalid("The user of this token no longer exists.")
        revoke_all(ctx, user)


def authenticate(ctx: Context, access_token: str) -> AuthenticatedUser:
    """The user an access token stands for, if it is still valid: one indexed read."""
    claims = tokens.decode(ctx, access_token, "access")
    with connection():
        row = (
            User.select(User.id, User.token_version, User.date_joined)
            .where(User.id == claims.user_id)
            .get_or_none()
        )
    if row is None or row.token_version != claims.token_version:
        raise errors.TokenInvalid("Token was revoked.")
    # SQLite hands a deleted user's id to the next new user (rowid reuse); a token issued before
    # this user existed belonged to someone else. (`iat` has whole seconds.)
    if claims.issued_at < row.date_joined.replace(microsecond=0):
        raise errors.TokenInvalid("Token was issued to a deleted account.")
    return AuthenticatedUser(id=row.id, token_version=row.token_version)


def verify(ctx: Context, token: str) -> None:
    """SimpleJWT's /verify/: is this token (access or refresh) still good?"""
    claims = tokens.decode(ctx, token)
    if claims.typ == "access":
        authenticate(ctx, token)
        return
    with connection():
        row = RefreshToken.get_or_none(RefreshToken.jti == claims.jti)
        user = User.get_or_none(User.id == claims.user_id)
    if (
        row is None
        or user is None
        or row.revoked_at is not None
        or row.spent_at is not None
        or user.token_version != claims.token_version
    ):
        raise errors.TokenInvalid("Token is revoked or spent.")


def me(ctx: Context, user_id: int) -> users.UserView:
    with connection():
        return users.view(users.get(user_id))
