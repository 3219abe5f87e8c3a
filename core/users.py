"""The user as the outside world sees it, and lookups shared by several flows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import peewee

from core import errors
from core.db import database, integrity_target
from core.models import Avatar, User
from core.policy import casefold_key, skeleton

USERNAME_TAKEN = "That username is already taken."
EMAIL_TAKEN = "An account with that email address already exists."


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    avatar_url: str | None
    date_joined: datetime
    email_verified: bool


def view(user: User) -> UserView:
    has_avatar = Avatar.select(Avatar.user).where(Avatar.user == user.id).exists()
    return UserView(
        id=user.id,
        username=user.username,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        avatar_url=avatar_url(user.id) if has_avatar else None,
        date_joined=user.date_joined,
        email_verified=user.email_verified,
    )


def avatar_url(user_id: int) -> str:
    return f"/api/users/{user_id}/avatar"


def find_by_login(identifier: str) -> User | None:
    """A login names a user by username or by email address, case-insensitively."""
    if "\x00" in identifier:  # no name has one, and PostgreSQL refuses it in a query
        return None
    key = casefold_key(identifier.strip())
    if "@" in key:
        user = User.get_or_none(User.email_key == key)
        if user is not None:
            return user
    return User.get_or_none(User.username_key == key)


def get(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise errors.TokenInvalid("The user of this token no longer exists.")
    return user


def ensure_username_free(username: str, *, except_user: int | None = None) -> None:
    """Free means no user has it in another case nor a username that looks like it."""
    query = User.select(User.id).where(
        (User.username_key == casefold_key(username))
        | (User.username_skeleton == skeleton(username))
    )
    if except_user is not None:
        query = query.where(User.id != except_user)
    if query.exists():
        raise errors.UsernameTaken(errors={"username": [USERNAME_TAKEN]})


def ensure_email_free(key: str, *, except_user: int | None = None) -> None:
    query = User.select(User.id).where(User.email_key == key)
    if except_user is not None:
        query = query.where(User.id != except_user)
    if query.exists():
        raise errors.EmailTaken(errors={"email": [EMAIL_TAKEN]})


@contextlib.contextmanager
def unique_identity() -> Iterator[None]:
    """Run a write that may collide on a unique username or email (in a savepoint, so the
    surrounding transaction survives) and turn the collision into the contract's 409.

    The `ensure_*_free` checks give the friendly answer in the common case; this is what makes
    racing writers safe, because only the unique index sees every transaction."""
    try:
        with database.atomic():
            yield
    except peewee.IntegrityError as exc:
        target = integrity_target(exc)
        if target in ("username_key", "username_skeleton"):
            raise errors.UsernameTaken(errors={"username": [USERNAME_TAKEN]}) from None
        if target == "email_key":
            raise errors.EmailTaken(errors={"email": [EMAIL_TAKEN]}) from None
        raise
