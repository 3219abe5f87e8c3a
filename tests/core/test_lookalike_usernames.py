"""Usernames that look alike are one username (UTS #39 skeleton), at every door: signup start,
signup verify (through the unique index when the friendly check is raced), and renames; and the
upgrade that adds the skeleton keeps every existing row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core import accounts, db, errors, policy, profile, schema, signup, users
from core.context import Context
from core.models import Login, SchemaVersion, User
from tests.conftest import FixedCodes

PASSWORD = "rabbit-hole-2026"
CYRILLIC_A = "\u0430dmin"
DOTLESS_I = "adm\u0131n"


def request(username: str, email: str) -> signup.SignupRequest:
    return signup.SignupRequest("Ann", "Lee", username, email, PASSWORD)


def with_codes(ctx: Context, *codes: int) -> Context:
    return Context(ctx.settings, ctx.passwords, ctx.clock, FixedCodes(*codes))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("admin", CYRILLIC_A),
        ("admin", DOTLESS_I),
        ("paypal", "p\u0430yp\u0430l"),
        ("ADMIN", "admln"),  # capital I and small L
        ("bob_1", "bob_l"),
        ("file", "\ufb01le"),  # the fi ligature
        ("admin", "\u0430dm\u0131n"),
    ],
)
def test_look_alikes_share_a_skeleton(a: str, b: str) -> None:
    assert policy.skeleton(a) == policy.skeleton(b)


@pytest.mark.parametrize(("a", "b"), [("admin", "admins"), ("alice", "alice2"), ("jo", "j0e")])
def test_different_names_keep_different_skeletons(a: str, b: str) -> None:
    assert policy.skeleton(a) != policy.skeleton(b)


def test_signup_start_refuses_a_look_alike(ctx: Context) -> None:
    accounts.create_user(ctx, username="admin", email="admin@example.com", password=PASSWORD)
    for name in (CYRILLIC_A, DOTLESS_I, "ADMIN"):
        with pytest.raises(errors.UsernameTaken) as exc:
            signup.start(ctx, request(name, "eve@example.com"))
        assert exc.value.errors == {"username": [users.USERNAME_TAKEN]}
    assert signup.start(ctx, request("admins", "eve@example.com")).signup_id


def test_the_first_verified_look_alike_wins(ctx: Context) -> None:
    """Both signups start while the name is free; the unique index decides at verify."""
    first = signup.start(with_codes(ctx, 111111), request("admin", "a@example.com"))
    second = signup.start(with_codes(ctx, 222222), request(CYRILLIC_A, "b@example.com"))
    assert signup.verify(ctx, first.signup_id, "111111").user.username == "admin"
    with pytest.raises(errors.UsernameTaken):
        signup.verify(ctx, second.signup_id, "222222")


def test_the_unique_index_alone_refuses_a_look_alike(ctx: Context) -> None:
    accounts.create_user(ctx, username="admin", email="admin@example.com", password=PASSWORD)
    # No ensure_username_free here: as if a racing writer got past the friendly check.
    with (
        db.connection(),
        db.write_transaction(),
        pytest.raises(errors.UsernameTaken),
        users.unique_identity(),
    ):
        User.create(
            username=DOTLESS_I,
            username_key=policy.casefold_key(DOTLESS_I),
            username_skeleton=policy.skeleton(DOTLESS_I),
            email="eve@example.com",
            email_key="eve@example.com",
            password_hash="x",
            date_joined=ctx.clock.now(),
        )


def test_renames_respect_look_alikes_but_not_oneself(ctx: Context) -> None:
    accounts.create_user(ctx, username="admin", email="admin@example.com", password=PASSWORD)
    eve = accounts.create_user(ctx, username="eve", email="eve@example.com", password=PASSWORD)
    with pytest.raises(errors.UsernameTaken):
        profile.update(ctx, eve.id, profile.ProfileChanges(username=CYRILLIC_A))
    assert profile.update(ctx, eve.id, profile.ProfileChanges(username="Eve")).username == "Eve"
    assert profile.update(ctx, eve.id, profile.ProfileChanges(username="\u0435ve")).username


def test_invisible_only_usernames_are_refused() -> None:
    assert policy.username_problems("admin") == []
    assert policy.username_problems("adm\u200bin")  # not \\w: refused by the charset already


def _as_version_1() -> None:
    """Put the schema back to version 1: no skeleton column, no index, no login table (a fresh
    database records only the version it was created at)."""
    from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

    migrator = (SqliteMigrator if db.is_sqlite() else PostgresqlMigrator)(db.database)
    db.database.drop_tables([Login])
    migrate(migrator.drop_index("user", "user_username_skeleton"))
    migrate(migrator.drop_column("user", "username_skeleton"))
    SchemaVersion.delete().execute()
    SchemaVersion.create(version=1, applied_at=datetime.now(UTC))


def test_upgrade_backfills_skeletons_and_keeps_colliding_rows(ctx: Context) -> None:
    with db.connection():
        _as_version_1()
        assert schema.current_version() == 1
        for name in ("admin", CYRILLIC_A, "bob", DOTLESS_I):
            db.database.execute_sql(
                'INSERT INTO "user" (username, username_key, email, email_key, first_name, '
                "last_name, password_hash, email_verified, token_version, date_joined) "
                "VALUES (%s, %s, %s, %s, '', '', 'x', TRUE, 0, 0)".replace(
                    "%s", "?" if db.is_sqlite() else "%s"
                ),
                (name, name.casefold(), f"{name}@example.com", f"{name}@example.com".casefold()),
            )
    assert schema.migrate() == schema.CURRENT_VERSION
    with db.connection():
        rows = [(u.username, u.username_skeleton) for u in User.select().order_by(User.id)]
    assert rows == [("admin", "admin"), (CYRILLIC_A, None), ("bob", "bob"), (DOTLESS_I, None)]
    with pytest.raises(errors.UsernameTaken):
        signup.start(ctx, request("\u0430dm\u0131n", "new@example.com"))
    assert schema.migrate() == schema.CURRENT_VERSION
