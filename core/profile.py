"""The signed-in user's own account: editing names and username, the avatar, and deleting the
whole account. (Changing the email address has its own flow: core/email_change.py.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core import avatars, email_change, errors, policy, ratelimit, reauth, signup, users
from core.context import Context
from core.db import connection, locked, write_transaction
from core.models import (
    Avatar,
    Code,
    EmailChange,
    Outbox,
    PasswordReset,
    RefreshToken,
    Signup,
    User,
)


@dataclass(frozen=True)
class ProfileChanges:
    """Fields left as None stay as they are. `email` and `password` are only here to be refused
    when they would change something: each has its own flow, and silently ignoring them would let
    a client believe the change was made."""

    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    email: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class StoredAvatar:
    data: bytes
    content_type: str
    etag: str
    updated_at: datetime


def _locked_user(user_id: int) -> User:
    user = locked(User.select().where(User.id == user_id)).get_or_none()
    if user is None:
        raise errors.TokenInvalid("The user of this token no longer exists.")
    return user


def update(ctx: Context, user_id: int, changes: ProfileChanges) -> users.UserView:
    """Apply a partial edit with signup's validation; usernames stay unique case-insensitively,
    backed by the unique index when two edits race."""
    first_name = changes.first_name.strip() if changes.first_name is not None else None
    last_name = changes.last_name.strip() if changes.last_name is not None else None
    username = changes.username.strip() if changes.username is not None else None
    problems: policy.FieldErrors = {}
    if first_name is not None:
        problems["first_name"] = policy.name_problems(first_name)
    if last_name is not None:
        problems["last_name"] = policy.name_problems(last_name)
    if username is not None:
        problems["username"] = policy.username_problems(username)
    if changes.password is not None:
        problems["password"] = ["Change the password with POST /api/me/password/."]
    with connection(), write_transaction():
        user = _locked_user(user_id)
        if (
            changes.email is not None
            and policy.casefold_key(policy.normalise_email(changes.email)) != user.email_key
        ):
            problems["email"] = ["Change the email address with POST /api/me/email/."]
        problems = {field: reasons for field, reasons in problems.items() if reasons}
        if problems:
            raise errors.InvalidInput(errors=problems)
        if first_name is not None:
            user.first_name = first_name
        if last_name is not None:
            user.last_name = last_name
        if username is not None:
            key = policy.casefold_key(username)
            users.ensure_username_free(username, except_user=user.id)
            user.username = username
            user.username_key = key
            user.username_skeleton = policy.skeleton(username)
        with users.unique_identity():
            user.save()
        return users.view(user)


def set_avatar(ctx: Context, user_id: int, data: bytes) -> users.UserView:
    """Re-encode `data` (CPU work: run in the hash pool) and store it in place of any avatar."""
    image = avatars.encode(data)
    with connection(), write_transaction():
        user = _locked_user(user_id)
        Avatar.delete().where(Avatar.user == user.id).execute()
        Avatar.create(
            user=user.id,
            content_type=image.content_type,
            etag=image.etag,
            data=image.data,
            width=image.width,
            height=image.height,
            updated_at=ctx.clock.now(),
        )
        return users.view(user)


def remove_avatar(ctx: Context, user_id: int) -> None:
    """Idempotent: removing an avatar that is not there is not an error."""
    with connection(), write_transaction():
        user = _locked_user(user_id)
        Avatar.delete().where(Avatar.user == user.id).execute()


def avatar(ctx: Context, user_id: int) -> StoredAvatar:
    with connection():
        row = Avatar.get_or_none(Avatar.user == user_id)
    if row is None:
        raise errors.AvatarNotFound()
    return StoredAvatar(
        data=bytes(row.data),
        content_type=row.content_type,
        etag=row.etag,
        updated_at=row.updated_at,
    )


def delete_account(ctx: Context, user_id: int, password: str) -> None:
    """Remove the user and everything that belongs to it. Hashes: run in the hash pool.

    Explicit deletes rather than relying on ON DELETE CASCADE: codes refer to their owner by a
    plain `ref`, signups and outbox rows only SET NULL, and a signup row still holds the name,
    address and password hash the account was made from.
    """
    confirmed_hash = reauth.confirm_password(ctx, user_id, password)
    with connection(), write_transaction():
        user = _locked_user(user_id)
        if user.password_hash != confirmed_hash:
            raise errors.WrongPassword("The password was changed meanwhile.")
        # Each change and signup is locked before its codes go, as the retention purge takes
        # them (it deleted codes under a signup's lock while this waited for that signup).
        changes = locked(EmailChange.select(EmailChange.id).where(EmailChange.user == user.id))
        change_ids = [c.id for c in changes]
        if change_ids:
            Code.delete().where(Code.flow == email_change.FLOW, Code.ref.in_(change_ids)).execute()
        EmailChange.delete().where(EmailChange.user == user.id).execute()
        signups = locked(Signup.select(Signup.id).where(Signup.user == user.id))
        signup_ids = [row.id for row in signups]
        if signup_ids:
            Code.delete().where(Code.flow == signup.FLOW, Code.ref.in_(signup_ids)).execute()
            Signup.delete().where(Signup.id.in_(signup_ids)).execute()
        PasswordReset.delete().where(PasswordReset.user == user.id).execute()
        RefreshToken.delete().where(RefreshToken.user == user.id).execute()
        Avatar.delete().where(Avatar.user == user.id).execute()
        # Locked in id order first, the order in which the sender records a batch's outcomes:
        # one DELETE takes rows in the order its plan visits them, and crossed the sender.
        unsent = Outbox.select(Outbox.id).where(Outbox.user == user.id, Outbox.status == "pending")
        unsent_ids = [row.id for row in locked(unsent.order_by(Outbox.id))]
        if unsent_ids:
            Outbox.delete().where(Outbox.id.in_(unsent_ids), Outbox.status == "pending").execute()
        ratelimit.reset(ctx, ratelimit.LOGIN_FAILURES_PER_ACCOUNT, str(user.id))
        user.delete_instance()
