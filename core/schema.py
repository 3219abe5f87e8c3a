"""Create or upgrade the schema in place. Each version after the first is a function of a
playhouse.migrate migrator, so an upgrade never drops rows."""

from __future__ import annotations

from collections.abc import Callable

from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator

from core.clock import Clock, SystemClock
from core.db import connection, database, is_sqlite, write_transaction
from core.models import ALL_MODELS, SchemaVersion

# version -> step that brings version-1 to version. Version 1 is create_tables.
UPGRADES: dict[int, Callable[[SchemaMigrator], None]] = {}
CURRENT_VERSION = 1 + len(UPGRADES)

_LOCK_ID = 0x61636374  # "acct": serializes concurrent migrations on PostgreSQL


def current_version() -> int:
    if not SchemaVersion.table_exists():
        return 0
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else 0


def migrate(clock: Clock | None = None) -> int:
    """Bring the schema to CURRENT_VERSION; safe to run from several processes at once."""
    clock = clock or SystemClock()
    with connection(), write_transaction():
        if not is_sqlite():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        version = current_version()
        if version == 0:
            database.create_tables(ALL_MODELS, safe=True)
            SchemaVersion.create(version=1, applied_at=clock.now())
            version = 1
        migrator = SqliteMigrator(database) if is_sqlite() else PostgresqlMigrator(database)
        while version < CURRENT_VERSION:
            version += 1
            UPGRADES[version](migrator)
            SchemaVersion.create(version=version, applied_at=clock.now())
        return version
