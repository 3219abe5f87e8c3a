"""`acctkit migrate` upgrades in place: rows survive an upgrade step, reruns are no-ops, a fresh
database starts at the newest version, and a real version-1 database (with logins in it) comes
through the upgrade with its refresh tokens still working."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import peewee as pw
import pytest
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator, migrate

from core import accounts, db, errors, schema, sessions, tokens
from core.clock import FrozenClock
from core.context import Context
from core.models import Login, Outbox, SchemaVersion, User
from tests.conftest import make_settings
from tests.core import schema_v1


def test_migrate_is_idempotent(ctx: Context) -> None:
    assert schema.migrate() == schema.CURRENT_VERSION
    assert schema.migrate() == schema.CURRENT_VERSION


def test_a_fresh_database_is_recorded_at_the_current_version(ctx: Context) -> None:
    """Created from the current models, it must not then run the upgrades over tables that are
    already current (an `add_column` would fail on a column that is already there)."""
    with db.connection():
        versions = [row.version for row in SchemaVersion.select().order_by(SchemaVersion.id)]
    assert versions == [schema.CURRENT_VERSION]


def test_an_upgrade_step_keeps_existing_rows(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts.create_user(
        ctx, username="keep", email="keep@example.com", password="rabbit-hole-2026"
    )

    def add_locale(migrator: SchemaMigrator) -> None:
        migrate(migrator.add_column("user", "locale", pw.CharField(default="en")))

    step = schema.CURRENT_VERSION + 1
    monkeypatch.setattr(schema, "UPGRADES", {**schema.UPGRADES, step: add_locale})
    monkeypatch.setattr(schema, "CURRENT_VERSION", step)
    assert schema.migrate() == step
    with db.connection():
        rows = db.database.execute_sql('SELECT username, locale FROM "user"').fetchall()
        assert schema.current_version() == step
    assert rows == [("keep", "en")]
    assert schema.migrate() == step
    with db.connection():
        assert User.select().count() == 1


def _us(when) -> int:  # type: ignore[no-untyped-def]
    """A time as the version-1 tables store it (UTC epoch microseconds)."""
    return (when - tokens.EPOCH) // timedelta(microseconds=1)


@pytest.fixture
def version_1(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    db.open_database(database_url)
    ddl = schema_v1.SQLITE if database_url.startswith("sqlite") else schema_v1.POSTGRES
    with db.connection(), db.database.atomic():
        for statement in ddl:
            db.database.execute_sql(statement)
    yield database_url
    db.close_database()


def test_a_version_1_database_with_logins_upgrades_and_its_tokens_keep_working(
    version_1: str, clock: FrozenClock
) -> None:
    ctx = Context.create(make_settings(version_1), clock=clock)
    start = clock.now()
    password_hash = ctx.passwords.hash("rabbit-hole-2026")
    user = pw.Table("user").bind(db.database)
    token = pw.Table("refresh_token").bind(db.database)
    version = pw.Table("schema_version").bind(db.database)

    def refresh_token(jti: str, family: str) -> str:
        # Exactly what version 1 signed: refresh tokens carried `fam`, access tokens did not.
        return tokens.encode(
            ctx, typ="refresh", user_id=1, token_version=0, jti=jti, family=family
        )[0]

    with db.connection(), db.database.atomic():
        version.insert(version=1, applied_at=_us(start)).execute()
        user.insert(
            id=1,
            username="alice",
            username_key="alice",
            email="alice@example.com",
            email_key="alice@example.com",
            first_name="Alice",
            last_name="Liddell",
            password_hash=password_hash,
            email_verified=True,
            token_version=0,
            date_joined=_us(start),
        ).execute()
        expires = _us(start + timedelta(days=1))
        # Family "live": its first token was refreshed an hour later; the child is live.
        for jti, parent, created, spent in (
            ("live-1", None, start, start + timedelta(hours=1)),
            ("live-2", "live-1", start + timedelta(hours=1), None),
        ):
            token.insert(
                jti=jti,
                user_id=1,
                family="live",
                parent=parent,
                created_at=_us(created),
                expires_at=expires,
                spent_at=_us(spent) if spent else None,
            ).execute()
        # Family "gone": logged out.
        token.insert(
            jti="gone-1",
            user_id=1,
            family="gone",
            created_at=_us(start),
            expires_at=expires,
            revoked_at=_us(start + timedelta(minutes=5)),
        ).execute()
    old_access = tokens.encode(ctx, typ="access", user_id=1, token_version=0, jti="a1")[0]
    live_refresh = refresh_token("live-2", "live")
    gone_refresh = refresh_token("gone-1", "gone")
    clock.advance(hours=2)

    assert schema.migrate() == schema.CURRENT_VERSION
    assert schema.migrate() == schema.CURRENT_VERSION
    with db.connection():
        logins = {row.id: row for row in Login.select()}
        assert User.get_by_id(1).username == "alice"
    assert set(logins) == {"live", "gone"}
    assert logins["live"].user_id == 1 and logins["live"].revoked_at is None
    assert logins["live"].created_at == start
    assert logins["live"].last_used_at == start + timedelta(hours=1)
    assert logins["live"].ip is None and logins["live"].user_agent is None
    assert logins["gone"].revoked_at == start + timedelta(minutes=5)

    # An access token minted before the upgrade keeps the token_version rule until it expires.
    clock.advance(-7200 + 60)
    assert sessions.authenticate(ctx, old_access).id == 1
    clock.advance(7200 - 60)
    # The live refresh token rotates into tokens that name their login.
    pair = sessions.refresh(ctx, live_refresh)
    assert tokens.decode(ctx, pair.access).family == "live"
    assert sessions.authenticate(ctx, pair.access).login_id == "live"
    with pytest.raises(errors.TokenInvalid):
        sessions.refresh(ctx, gone_refresh)
    assert [view.id for view in sessions.list_logins(ctx, 1)] == ["live"]
    assert sessions.login(ctx, "alice", "rabbit-hole-2026")


def test_version_3_adds_the_outbox_delivery_columns_and_backfills(ctx: Context) -> None:
    """An older database with a queued mail keeps it and learns when to give it up."""
    with db.connection():
        db.database.execute_sql(
            "INSERT INTO outbox (to_addr, subject, text, html, headers, message_id, flow, ref,"
            " seq, status, attempts, next_try_at, created_at)"
            " VALUES ('a@example.com', 's', 't', 'h', '{}', '<m@x>', 'password-changed', 'r',"
            " 1, 'pending', 3, 0, 1000000)"
        )
        migrator = (
            SqliteMigrator(db.database) if db.is_sqlite() else PostgresqlMigrator(db.database)
        )
        migrate(
            *(
                migrator.drop_column("outbox", name)
                for name in ("request_id", "expires_at", "give_up_at", "claimed_by")
            )
        )
        SchemaVersion.update(version=1).execute()
    assert schema.migrate() == schema.CURRENT_VERSION
    with db.connection():
        row = Outbox.get()
    assert (row.to_addr, row.attempts, row.request_id, row.claimed_by) == (
        "a@example.com",
        3,
        None,
        None,
    )
    assert row.give_up_at - row.created_at == timedelta(days=5)
