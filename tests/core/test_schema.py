"""`acctkit migrate` upgrades in place: rows survive an upgrade step, reruns are no-ops."""

from __future__ import annotations

import peewee as pw
import pytest
from playhouse.migrate import SchemaMigrator, migrate

from core import accounts, db, schema
from core.context import Context
from core.models import User


def test_migrate_is_idempotent(ctx: Context) -> None:
    assert schema.migrate() == schema.CURRENT_VERSION
    assert schema.migrate() == schema.CURRENT_VERSION


def test_an_upgrade_step_keeps_existing_rows(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts.create_user(
        ctx, username="keep", email="keep@example.com", password="rabbit-hole-2026"
    )

    def add_locale(migrator: SchemaMigrator) -> None:
        migrate(migrator.add_column("user", "locale", pw.CharField(default="en")))

    monkeypatch.setattr(schema, "UPGRADES", {2: add_locale})
    monkeypatch.setattr(schema, "CURRENT_VERSION", 2)
    assert schema.migrate() == 2
    with db.connection():
        rows = db.database.execute_sql('SELECT username, locale FROM "user"').fetchall()
        assert schema.current_version() == 2
    assert rows == [("keep", "en")]
    assert schema.migrate() == 2
    with db.connection():
        assert User.select().count() == 1
