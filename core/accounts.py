"""Accounts made by an operator rather than by signup (`acctkit createuser`)."""

from __future__ import annotations

from core import errors, policy, users
from core.context import Context
from core.db import connection, write_transaction
from core.models import User


def create_user(
    ctx: Context,
    *,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
) -> users.UserView:
    """Create a verified user directly, with the same validation and uniqueness as signup."""
    username = username.strip()
    email = policy.normalise_email(email)
    problems = {
        "username": policy.username_problems(username),
        "email": policy.email_problems(email),
        "password": policy.password_problems(
            password, min_length=ctx.settings.password_min_length, username=username, email=email
        ),
    }
    problems = {k: v for k, v in problems.items() if v}
    if problems:
        raise errors.InvalidInput(errors=problems)
    password_hash = ctx.passwords.hash(password)
    with connection(), write_transaction():
        users.ensure_username_free(username)
        users.ensure_email_free(policy.casefold_key(email))
        with users.unique_identity():
            user = User.create(
                username=username,
                username_key=policy.casefold_key(username),
                username_skeleton=policy.skeleton(username),
                email=email,
                email_key=policy.casefold_key(email),
                first_name=first_name,
                last_name=last_name,
                password_hash=password_hash,
                email_verified=True,
                date_joined=ctx.clock.now(),
            )
        return users.view(user)
