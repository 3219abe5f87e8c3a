"""Create or upgrade the schema in place. Each version after the first is a function of a
playhouse.migrate migrator, so an upgrade never drops rows.

A fresh database is created from the current models and recorded at CURRENT_VERSION: the steps
only ever run over a database that was made by an older release."""

from __future__ import annotations

import logging
from collections.abc import Callable

import peewee as pw
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator
from playhouse.migrate import migrate as run_migrations

from core.clock import Clock, SystemClock
from core.db import connection, database, is_sqlite, write_transaction
from core.models import ALL_MODELS, BaseModel, Outbox, SchemaVersion, User, UTCDateTimeField
from core.policy import skeleton

log = logging.getLogger(__name__)


def add_username_skeletons(migrator: SchemaMigrator) -> None:
    """Version 2: look-alike usernames become one username (UTS #39 skeleton, unique).

    Existing users keep their rows and names. Where old names already look alike, the oldest
    account holds the skeleton and the later ones keep NULL (a unique index allows many NULLs):
    nobody new can take any of those looks, and a later one gets its skeleton when it renames.
    A fresh database already has the column from create_tables, so each step checks first."""
    table = User._meta.table_name
    if "username_skeleton" not in {c.name for c in database.get_columns(table)}:
        run_migrations(migrator.add_column(table, "username_skeleton", pw.TextField(null=True)))
    taken = {
        row.username_skeleton
        for row in User.select(User.username_skeleton).where(User.username_skeleton.is_null(False))
    }
    pending = User.select(User.id, User.username).where(User.username_skeleton.is_null())
    for user in pending.order_by(User.id):
        key = skeleton(user.username)
        if key in taken or not key:
            log.warning("user %s looks like an older username; it keeps no skeleton", user.id)
            continue
        taken.add(key)
        User.update(username_skeleton=key).where(User.id == user.id).execute()
    if "user_username_skeleton" not in {i.name for i in database.get_indexes(table)}:
        run_migrations(migrator.add_index(table, ("username_skeleton",), unique=True))


class _LoginAsCreated(BaseModel):
    """The `login` table as version 3 made it, frozen here so the step keeps working after the
    live model grows columns (a later step adds those)."""

    id = pw.CharField(primary_key=True, max_length=43)
    user = pw.ForeignKeyField(User, on_delete="CASCADE", index=True)
    created_at = UTCDateTimeField()
    last_used_at = UTCDateTimeField()
    ip = pw.CharField(max_length=64, null=True)
    user_agent = pw.CharField(max_length=255, null=True)
    revoked_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "login"


def _add_logins(migrator: SchemaMigrator) -> None:
    """Version 3: a `login` row per refresh-token family, so access tokens can name their login
    and die with it. Each existing family becomes a login (first token's time, last refresh's
    time, revoked if all its tokens are), so refresh tokens issued before the upgrade still work;
    the address and user agent of those logins were never recorded and stay empty."""
    database.create_tables([_LoginAsCreated])
    token = pw.Table("refresh_token", ("family", "user_id", "created_at", "revoked_at")).bind(
        database
    )
    all_revoked = pw.Case(
        None,
        [
            (
                pw.fn.COUNT(token.revoked_at) == pw.fn.COUNT(pw.SQL("*")),
                pw.fn.MAX(token.revoked_at),
            )
        ],
        None,
    )
    families = token.select(
        token.family,
        pw.fn.MIN(token.user_id),
        pw.fn.MIN(token.created_at),
        pw.fn.MAX(token.created_at),
        all_revoked,
    ).group_by(token.family)
    _LoginAsCreated.insert_from(
        families,
        [
            _LoginAsCreated.id,
            _LoginAsCreated.user,
            _LoginAsCreated.created_at,
            _LoginAsCreated.last_used_at,
            _LoginAsCreated.revoked_at,
        ],
    ).execute()


NOTICE_BACKFILL_MICROSECONDS = 5 * 86400 * 10**6


def add_outbox_delivery_columns(migrator: SchemaMigrator) -> None:
    """Version 4: outbox rows learn their request id, their content's expiry, when to give up,
    and who holds their lease. Rows queued before the upgrade get five days from their creation.
    Checks each column first, like version 2, so a rerun or a fresh database is harmless."""
    table = Outbox._meta.table_name
    have = {c.name for c in database.get_columns(table)}
    fields = {
        "request_id": Outbox.request_id,
        "expires_at": Outbox.expires_at,
        "give_up_at": Outbox.give_up_at,
        "claimed_by": Outbox.claimed_by,
    }
    missing = [migrator.add_column(table, n, f) for n, f in fields.items() if n not in have]
    if missing:
        run_migrations(*missing)
    database.execute_sql(
        f"UPDATE {table} SET give_up_at = created_at + {NOTICE_BACKFILL_MICROSECONDS} "
        "WHERE give_up_at IS NULL"
    )


# version -> step that brings version-1 to version. Version 1 is the first release's tables.
UPGRADES: dict[int, Callable[[SchemaMigrator], None]] = {
    2: add_username_skeletons,
    3: _add_logins,
    4: add_outbox_delivery_columns,
}
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
            # The current models already are the newest schema: nothing to upgrade.
            database.create_tables(ALL_MODELS, safe=True)
            SchemaVersion.create(version=CURRENT_VERSION, applied_at=clock.now())
            return CURRENT_VERSION
        migrator = SqliteMigrator(database) if is_sqlite() else PostgresqlMigrator(database)
        while version < CURRENT_VERSION:
            version += 1
            UPGRADES[version](migrator)
            SchemaVersion.create(version=version, applied_at=clock.now())
        return version
