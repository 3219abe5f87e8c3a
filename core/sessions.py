"""Logins: issuing token pairs, refresh rotation with reuse detection, revocation, throttling.

A login (`models.Login`) is a refresh-token *family*. Each refresh spends its token and issues a
child; presenting a spent token again means it was stolen or raced, so the whole login is revoked
(SimpleJWT's rotation plus OAuth 2.0 BCP reuse detection). Access tokens name their login in the
`fam` claim and carry the user's `token_version`; one indexed read of the user joined to the
login (both by primary key) decides whether an access token is still good, so ending a login, or
bumping the version, kills its access tokens at once on every instance. Access tokens minted
before logins existed carry no `fam` and keep the `token_version` rule alone until they expire.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from core import errors, policy, ratelimit, tokens, users
from core.authentication import authenticate
from core.context import Context, is_issued_id
from core.db import connection, locked, write_transaction
from core.models import Login, RefreshToken, User
from core.tokens import TokenPair


@dataclass(frozen=True)
class Client:
    """Where a login was started from, as the list of sessions shows it to its owner."""

    ip: str = ""
    user_agent: str = ""


NO_CLIENT = Client()


@dataclass(frozen=True)
class LoginView:
    id: str
    created_at: datetime
    last_used_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool


def _printable(value: str, limit: int) -> str | None:
    """Header text as the database can store it: no control characters or lone surrogates (a
    User-Agent with undecodable bytes arrives with them), and bounded."""
    cleaned = "".join(ch for ch in value if ch.isprintable())[:limit].strip()
    return cleaned or None


def issue_pair(
    ctx: Context,
    user: User,
    *,
    client: Client = NO_CLIENT,
    family: str | None = None,
    parent: str | None = None,
    started: datetime | None = None,
) -> TokenPair:
    """Sign a refresh and an access token of login `family` (which began at `started`), or of
    a new login started from `client` when no family is given. Call inside a write transaction.

    With a session lifetime (`session_max_age`, GoTrue's timebox), no refresh token outlives
    the login's end: its last token expires then, and the login can only be begun again with
    the password. Access tokens keep their own short TTL."""
    now = ctx.clock.now()
    if family is None or started is None:
        started = now
    if family is None:
        family = ctx.random.token_urlsafe(16)
        Login.create(
            id=family,
            user=user.id,
            created_at=now,
            last_used_at=now,
            ip=_printable(client.ip, 64),
            user_agent=_printable(client.user_agent, 255),
        )
    jti = ctx.random.token_urlsafe(24)
    max_age = ctx.settings.session_max_age
    refresh, expires_at = tokens.encode(
        ctx,
        typ="refresh",
        user_id=user.id,
        token_version=user.token_version,
        jti=jti,
        family=family,
        not_after=started + timedelta(seconds=max_age) if max_age else None,
    )
    RefreshToken.create(
        jti=jti,
        user=user.id,
        family=family,
        parent=parent,
        created_at=now,
        expires_at=expires_at,
    )
    return TokenPair(access=_access_token(ctx, user, family), refresh=refresh)


def _access_token(ctx: Context, user: User, family: str) -> str:
    access, _ = tokens.encode(
        ctx,
        typ="access",
        user_id=user.id,
        token_version=user.token_version,
        jti=ctx.random.token_urlsafe(16),
        family=family,
    )
    return access


def _identifier_digest(ctx: Context, identifier: str) -> str:
    """The identifier as typed, normalised the way lookups normalise it, and keyed-hashed: the
    rate-limit table must not keep what people type into the username field (often a password)."""
    key = policy.casefold_key(identifier.strip()).encode("utf-8", "surrogatepass")
    return hmac.new(ctx.code_key, b"login-identifier\0" + key, hashlib.sha256).hexdigest()[:32]


def _throttles(ctx: Context, identifier: str, ip: str) -> list[ratelimit.Check]:
    digest = _identifier_digest(ctx, identifier)
    return [
        (ratelimit.LOGIN_FAILURES_PER_IDENTIFIER_AND_IP, f"{digest}:{ip}"),
        (ratelimit.LOGIN_FAILURES_PER_IDENTIFIER, digest),
    ]


def _too_many(wait: int | None) -> errors.TooManyAttempts | None:
    if wait is None:
        return None
    return errors.TooManyAttempts(
        f"Too many failed logins. Try again in {wait} s.", retry_after=wait
    )


def login(ctx: Context, identifier: str, password: str, *, client: Client = NO_CLIENT) -> TokenPair:
    """Check a password and start a login.

    Whether the identifier names a user changes nothing an outsider can see: unknown users cost
    one real argon2 verification too, and failures count against the identifier as typed, known
    or not, so the same statuses come at the same counts. Only failures write; the throttles are
    peeked with a plain read, then peeked again under the write lock before a success is
    accepted, so guesses raced past the first peek cannot win once the budget is spent.
    """
    throttles = _throttles(ctx, identifier, client.ip)
    with connection():
        if client.ip:
            ratelimit.enforce(ctx, ratelimit.LOGIN_PER_IP, client.ip, errors.TooManyAttempts)
        refused = _too_many(ratelimit.peek_all(ctx, throttles))
        if refused is not None:
            raise refused
        user = users.find_by_login(identifier)
    if user is None:
        ctx.passwords.verify_dummy(password)
        correct = False
    else:
        correct = ctx.passwords.verify(user.password_hash, password)
    if not correct:
        with connection():
            # A failure the budget had no room for (raced past the peek) is answered as throttled.
            refused = _too_many(ratelimit.hit_all(ctx, throttles))
        raise refused or errors.InvalidCredentials()
    assert user is not None
    verified_hash = user.password_hash
    rehash = ctx.passwords.needs_rehash(user.password_hash)
    new_hash = ctx.passwords.hash(password) if rehash else None
    with connection(), write_transaction():
        refused = _too_many(ratelimit.peek_all(ctx, throttles))
        if refused is not None:
            raise refused
        user = locked(User.select().where(User.id == user.id)).get_or_none()
        if user is None or user.password_hash != verified_hash:
            # Deleted, or its password changed while this one was being checked (a reset by
            # the owner who saw it stolen): the password checked no longer opens the account.
            raise errors.InvalidCredentials()
        user.last_login = ctx.clock.now()
        changed = [User.last_login]
        if new_hash is not None:
            user.password_hash = new_hash
            changed.append(User.password_hash)
        user.save(only=changed)  # not every column: a login changes these
        # A success clears the consecutive failures (NIST SP 800-63B 5.2.2) of this identifier
        # and of this address; another address's failures stay counted against that address.
        ratelimit.reset_all(ctx, throttles)
        return issue_pair(ctx, user, client=client)


def forget_failed_logins(ctx: Context, user: User) -> None:
    """A new password set through a reset or a change clears the failures counted against the
    user's username and address, so an owner locked out by someone else's guesses gets back in.
    Call inside a write transaction."""
    digests = [_identifier_digest(ctx, key) for key in (user.username_key, user.email_key)]
    # One statement, rows locked in key order as a failed login locks them (no deadlock).
    ratelimit.forget(
        ctx,
        [(ratelimit.LOGIN_FAILURES_PER_IDENTIFIER, digest) for digest in digests],
        [(ratelimit.LOGIN_FAILURES_PER_IDENTIFIER_AND_IP, f"{digest}:") for digest in digests],
    )


def _locked_login(family: str | None) -> Login | None:
    if family is None:
        return None
    return locked(Login.select().where(Login.id == family)).get_or_none()


def _end_login(login_id: str, now: datetime) -> None:
    """Revoke the login and every refresh token of it; its access tokens die with the row."""
    Login.update(revoked_at=now).where(Login.id == login_id, Login.revoked_at.is_null()).execute()
    RefreshToken.update(revoked_at=now).where(
        RefreshToken.family == login_id, RefreshToken.revoked_at.is_null()
    ).execute()


def refresh(ctx: Context, refresh_token: str) -> TokenPair:
    claims = tokens.decode(ctx, refresh_token, "refresh")
    now = ctx.clock.now()
    with connection():
        with write_transaction():
            # User, then login, then token, as every path that locks them, so PostgreSQL never
            # deadlocks: the new token's foreign key waits for the user row, which logout-all,
            # a password change or a deletion hold while they wait for this login.
            user = locked(User.select().where(User.id == claims.user_id)).get_or_none()
            login = _locked_login(claims.family)
            row = locked(RefreshToken.select().where(RefreshToken.jti == claims.jti)).get_or_none()
            if (
                row is None
                or user is None
                or login is None
                or row.revoked_at is not None
                or login.revoked_at is not None
                or row.family != login.id
                or login.user_id != user.id
            ):
                raise errors.TokenInvalid("Token is revoked or unknown.")
            if user.token_version != claims.token_version:
                raise errors.TokenInvalid("Token was revoked by a logout or password change.")
            if row.spent_at is None:
                row.spent_at = now
                row.save()
                Login.update(last_used_at=now).where(Login.id == login.id).execute()
                return issue_pair(
                    ctx, user, family=login.id, parent=row.jti, started=login.created_at
                )
            successor = _successor_within_reuse_interval(ctx, row, now)
            if successor is not None:
                Login.update(last_used_at=now).where(Login.id == login.id).execute()
                return _pair_with(ctx, user, successor)
            _end_login(login.id, now)
        # Committed the revocation above; only now report the reuse.
        raise errors.TokenReused()


def _successor_within_reuse_interval(
    ctx: Context, spent: RefreshToken, now: datetime
) -> RefreshToken | None:
    """The token that replaced `spent`, if `spent` was spent under `refresh_reuse_interval`
    seconds ago and its successor is still unused (GoTrue's reuse interval, Okta's grace period).

    Two tabs of a browser app, or two requests of one client, that find the access token expired
    at once both refresh with the same token. Strict reuse detection revokes the login on the
    second, and the person is logged out for having two tabs open. Within the interval the second
    gets the same new refresh token as the first (and an access token of its own), so both go
    on with one token between them; past it, or once that token was used, reuse revokes as
    ever. Call inside the refresh's write transaction, with `spent` locked."""
    interval = ctx.settings.refresh_reuse_interval
    if not interval or spent.spent_at is None:
        return None
    if now - spent.spent_at >= timedelta(seconds=interval):
        return None
    query = RefreshToken.select().where(
        RefreshToken.parent == spent.jti,
        RefreshToken.family == spent.family,
        RefreshToken.spent_at.is_null(),
        RefreshToken.revoked_at.is_null(),
        RefreshToken.expires_at > now,
    )
    return locked(query).get_or_none()


def _pair_with(ctx: Context, user: User, refresh: RefreshToken) -> TokenPair:
    """`refresh` signed again (same claims, so the same token with the same key) and a new
    access token of its login."""
    signed, _ = tokens.encode(
        ctx,
        typ="refresh",
        user_id=user.id,
        token_version=user.token_version,
        jti=refresh.jti,
        family=refresh.family,
        issued=(refresh.created_at, refresh.expires_at),
    )
    return TokenPair(access=_access_token(ctx, user, refresh.family), refresh=signed)


def revoke(ctx: Context, refresh_token: str) -> None:
    """Log out of one login: its refresh tokens and its access tokens stop working at once."""
    claims = tokens.decode(ctx, refresh_token, "refresh")
    with connection(), write_transaction():
        # The user first, as in refresh: deleting the account deletes the tokens, then (by
        # cascade) the login, under the user's lock; locking the login first deadlocked with it.
        user = locked(User.select(User.id).where(User.id == claims.user_id)).get_or_none()
        login = _locked_login(claims.family)
        row = locked(RefreshToken.select().where(RefreshToken.jti == claims.jti)).get_or_none()
        if (
            row is None
            or user is None
            or login is None
            or login.user_id != user.id
            or row.revoked_at is not None
            or login.revoked_at is not None
            or row.family != login.id
        ):
            raise errors.TokenInvalid("Token is revoked or unknown.")
        _end_login(login.id, ctx.clock.now())


def revoke_all(ctx: Context, user: User) -> None:
    """Every login of `user`, with its access and refresh tokens, dies at once. Call inside a
    write transaction that has locked the user."""
    now = ctx.clock.now()
    User.update(token_version=User.token_version + 1).where(User.id == user.id).execute()
    user.token_version += 1
    Login.update(revoked_at=now).where(Login.user == user.id, Login.revoked_at.is_null()).execute()
    RefreshToken.update(revoked_at=now).where(
        RefreshToken.user == user.id, RefreshToken.revoked_at.is_null()
    ).execute()


def logout_all(ctx: Context, user_id: int) -> None:
    with connection(), write_transaction():
        user = locked(User.select().where(User.id == user_id)).get_or_none()
        if user is None:
            raise errors.TokenInvalid("The user of this token no longer exists.")
        revoke_all(ctx, user)


def verify(ctx: Context, token: str) -> None:
    """SimpleJWT's /verify/: is this token (access or refresh) still good?"""
    claims = tokens.decode(ctx, token)
    if claims.typ == "access":
        authenticate(ctx, token)
        return
    with connection():
        row = RefreshToken.get_or_none(RefreshToken.jti == claims.jti)
        user = User.get_or_none(User.id == claims.user_id)
        login = Login.get_or_none(Login.id == claims.family) if claims.family else None
    if (
        row is None
        or user is None
        or login is None
        or row.revoked_at is not None
        or row.spent_at is not None
        or login.revoked_at is not None
        or row.family != login.id
        or user.token_version != claims.token_version
    ):
        raise errors.TokenInvalid("Token is revoked or spent.")


def list_logins(ctx: Context, user_id: int, current: str | None = None) -> list[LoginView]:
    """The user's live logins, most recently used first: not revoked, and holding a refresh
    token that is neither spent nor expired (a login whose last token lapsed cannot come back)."""
    now = ctx.clock.now()
    live_token = RefreshToken.select(RefreshToken.jti).where(
        RefreshToken.family == Login.id,
        RefreshToken.spent_at.is_null(),
        RefreshToken.revoked_at.is_null(),
        RefreshToken.expires_at > now,
    )
    with connection():
        rows = list(
            Login.select()
            .where(
                Login.user == user_id,
                Login.revoked_at.is_null(),
                peewee.fn.EXISTS(live_token),
            )
            .order_by(Login.last_used_at.desc(), Login.created_at.desc(), Login.id)
        )
    return [
        LoginView(
            id=row.id,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            ip=row.ip,
            user_agent=row.user_agent,
            current=row.id == current,
        )
        for row in rows
    ]


def end_login(ctx: Context, user_id: int, login_id: str) -> None:
    """End one of the user's own logins (GET /api/me/sessions/ lists them). Another user's login,
    an unknown id and an already ended login are all the same 404: ids are not probed."""
    if not is_issued_id(login_id):
        raise errors.SessionNotFound()
    with connection(), write_transaction():
        # The user before the login, as in revoke (an account deletion deletes the login's
        # tokens, then the login, under the user's lock).
        user = locked(User.select(User.id).where(User.id == user_id)).get_or_none()
        login = _locked_login(login_id)
        if (
            user is None
            or login is None
            or login.user_id != user_id
            or login.revoked_at is not None
        ):
            raise errors.SessionNotFound()
        _end_login(login.id, ctx.clock.now())


def me(ctx: Context, user_id: int) -> users.UserView:
    with connection():
        return users.view(users.get(user_id))
