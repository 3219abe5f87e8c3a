"""Who an access token stands for, read fresh on every request.

An access token names its user, the user's `token_version` and its login (`fam`). One indexed
read of the user joined to the login, both by primary key, decides whether it is still good, so
ending a login or bumping the version kills its access tokens at once on every instance. Nothing
here remembers a row: the signature check may be remembered (core.tokens), the row never is.

GET /api/me/ is the hottest request, so its read also carries the user view's columns, and
`me_by_tokens` runs the reads of many concurrent requests as one statement: on PostgreSQL each
statement is a network round trip and a backend wake-up, the most of what /me costs there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import peewee

from core import errors, tokens, users
from core.context import Context
from core.db import connection, database
from core.models import Avatar, Login, User

BATCH_LIMIT = 64
"""The most tokens `me_by_tokens` reads in one statement (a batcher gives it at most this)."""


@dataclass(frozen=True)
class AuthenticatedUser:
    id: int
    token_version: int
    login_id: str | None = None  # None for access tokens minted before logins existed


def authenticate(ctx: Context, access_token: str) -> AuthenticatedUser:
    """The user an access token stands for, if it is still valid: one indexed read, the user
    joined to the token's login by primary keys. It writes nothing (`last_used_at` moves on
    refresh), so authenticated reads stay reads."""
    claims = tokens.decode(ctx, access_token, "access")
    user, _ = _authenticated_row(claims, view=False)
    return user


def me_by_token(ctx: Context, access_token: str) -> users.UserView:
    """`authenticate` and `me` in one service call and one statement: GET /api/me/'s hot path,
    with exactly authenticate's checks."""
    claims = tokens.decode(ctx, access_token, "access")
    user, columns = _authenticated_row(claims, view=True)
    return _user_view(user, columns)


def me_by_tokens(ctx: Context, access_tokens: Sequence[str]) -> list[users.UserView | Exception]:
    """`me_by_token` for each of many tokens, in one statement: item i of the answer is token
    i's view, or the error `me_by_token` would have raised for it. Each token gets exactly
    `me_by_token`'s checks against rows read by this call, never earlier. Whatever one token
    raises is that token's answer alone (a bug included): it never fails the others' requests."""
    if len(access_tokens) > BATCH_LIMIT:
        raise ValueError(f"at most {BATCH_LIMIT} tokens in one read")
    answers: dict[int, users.UserView | Exception] = {}
    pending: dict[int, tokens.Claims] = {}
    for i, token in enumerate(access_tokens):
        try:
            pending[i] = tokens.decode(ctx, token, "access")
        except Exception as exc:  # this token's answer alone; the others go on
            answers[i] = exc
    if pending:
        params = [v for i, claims in pending.items() for v in (i, claims.user_id, claims.family)]
        with connection():
            rows = database.execute_sql(_batch_sql(len(pending)), params).fetchall()
        by_index = {row[0]: row[1:] for row in rows}
        for i, claims in pending.items():
            row = by_index.get(i)
            if row is not None and claims.family is not None:  # as the single read's row:
                row = None if row[3] is None else (*row[:3], *row[4:])  # no login, no row
            elif row is not None:
                row = (*row[:3], *row[5:])
            try:
                answers[i] = _user_view(*_checked(claims, row, view=True))
            except Exception as exc:  # as above
                answers[i] = exc
    return [answers[i] for i in range(len(access_tokens))]


def _authenticated_row(
    claims: tokens.Claims, *, view: bool
) -> tuple[AuthenticatedUser, tuple[Any, ...]]:
    """Run the authenticate read (with the user view's columns if `view`) and check the token
    against it; returns the user and the view's columns. Never cached: every call reads the row,
    so a revoked token or login fails on every instance at once."""
    named = claims.family is not None
    params = [claims.family, claims.user_id] if named else [claims.user_id]
    with connection():
        row = database.execute_sql(_authenticate_sql(named, view), params).fetchone()
    return _checked(claims, row, view=view)


def _checked(
    claims: tokens.Claims, row: tuple[Any, ...] | None, *, view: bool
) -> tuple[AuthenticatedUser, tuple[Any, ...]]:
    """Check a token against its authenticate row: (id, token_version, date_joined, [login's
    revoked_at,] view columns...), or None when the user or the named login does not exist."""
    named = claims.family is not None
    if row is None or row[1] != claims.token_version:
        raise errors.TokenInvalid("Token was revoked.")
    if named and row[3] is not None:
        raise errors.TokenInvalid("Token was revoked: its login has ended.")
    # SQLite hands a deleted user's id to the next new user (rowid reuse); a token issued before
    # this user existed belonged to someone else. (`iat` has whole seconds.)
    date_joined = User.date_joined.python_value(row[2])
    if claims.issued_at < date_joined.replace(microsecond=0):
        raise errors.TokenInvalid("Token was issued to a deleted account.")
    user = AuthenticatedUser(id=row[0], token_version=row[1], login_id=claims.family)
    return user, (date_joined, *row[4 if named else 3 :])


def _user_view(user: AuthenticatedUser, columns: tuple[Any, ...]) -> users.UserView:
    date_joined, username, email, first_name, last_name, verified, has_avatar = columns
    return users.UserView(
        id=user.id,
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        avatar_url=users.avatar_url(user.id) if has_avatar else None,
        date_joined=date_joined,
        email_verified=User.email_verified.python_value(verified),
    )


_AUTHENTICATE_SQL: dict[tuple[type, bool, bool], str] = {}
_VIEW_COLUMNS = (User.username, User.email, User.first_name, User.last_name, User.email_verified)


def _has_avatar() -> peewee.Node:
    return peewee.fn.EXISTS(Avatar.select(Avatar.user).where(Avatar.user == User.id))


def _authenticate_sql(named: bool, view: bool = False) -> str:
    """The read behind every authenticated request, compiled once per backend: building it with
    Peewee on each call cost more than running it. Parameters: [login id,] user id. With `view`
    it also reads what GET /api/me/ shows, and whether an avatar exists, in the same statement."""
    key = (type(database.obj), named, view)
    sql = _AUTHENTICATE_SQL.get(key)
    if sql is None:
        query = User.select(User.id, User.token_version, User.date_joined)
        if named:
            query = query.select_extend(Login.revoked_at).join(
                Login, on=(Login.id == "login") & (Login.user == User.id)
            )
        if view:
            query = query.select_extend(*_VIEW_COLUMNS, _has_avatar())
        sql, params = query.where(User.id == 7).sql()
        if list(params) != (["login", 7] if named else [7]):
            raise RuntimeError(f"unexpected parameters in the authenticate query: {params}")
        _AUTHENTICATE_SQL[key] = sql
    return sql


_BATCH_SQL: dict[tuple[type, int], str] = {}


def _batch_sql(n: int) -> str:
    """The /me read for n tokens, compiled once per backend and n (building it with Peewee on
    each call was a quarter of the workers' time). Parameters: (index, user id, login id) of each
    token in turn. Rows: index, id, token_version, date_joined, the login's id and revoked_at, the
    view's columns; a token whose user is gone has no row."""
    key = (type(database.obj), n)
    sql = _BATCH_SQL.get(key)
    if sql is None:
        keys = [(i, -i, f"login-{i}") for i in range(n)]
        k = peewee.ValuesList(keys).cte("k", columns=("i", "uid", "login"))
        login_matches = (Login.id == k.c.login) & (Login.user == User.id)
        query = (
            User.select(k.c.i, User.id, User.token_version, User.date_joined, Login.id)
            .select_extend(Login.revoked_at, *_VIEW_COLUMNS, _has_avatar())
            .from_(k)
            .join(User, on=(User.id == k.c.uid))
            .join(Login, peewee.JOIN.LEFT_OUTER, on=login_matches)
            .with_cte(k)
        )
        sql, params = query.sql()
        if list(params) != [value for key in keys for value in key]:
            raise RuntimeError(f"unexpected parameters in the batched /me query: {params}")
        _BATCH_SQL[key] = sql
    return sql
