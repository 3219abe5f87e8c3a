"""The user as the outside world sees it, and lookups shared by several flows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core import errors
from core.models import Avatar, User
from core.policy import casefold_key


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
        avatar_url=f"/api/users/{user.id}/avatar" if has_avatar else None,
        date_joined=user.date_joined,
        email_verified=user.email_verified,
    )


def find_by_login(identifier: str) -> User | None:
    """A login names a user by username or by email address, case-insensitively."""
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


def ensure_username_free(key: str, *, except_user: int | None = None) -> None:
    query = User.select(User.id).where(User.username_key == key)
    if except_user is not None:
        query = query.where(User.id != except_user)
    if query.exists():
        raise errors.UsernameTaken(errors={"username": ["That username is already taken."]})


def ensure_email_free(key: str, *, except_user: int | None = None) -> None:
    query = User.select(User.id).where(User.email_key == key)
    if except_user is not None:
        query = query.where(User.id != except_user)
    if query.exists():
        raise errors.EmailTaken(
            errors={"email": ["An account with that email address already exists."]}
        )
