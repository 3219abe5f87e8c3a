"""The database handle, chosen at run time from a URL, and the one way to open a write transaction.

Models bind to `database`, a proxy that `open_database()` points at SQLite or PostgreSQL. Each
executor thread checks a pooled connection out per call (`connection()`, reentrant), so a
connection is never shared between threads and PostgreSQL sees a bounded number of them.
Autoconnect is off: a query outside `connection()` fails loudly instead of leaking a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import peewee
from playhouse import db_url
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from core import errors, redaction
from core.settings import SettingsError

log = logging.getLogger(__name__)
database = peewee.DatabaseProxy()

WAL_BACKSTOP_PAGES = 10_000
"""SQLite checkpoints its write-ahead log itself, inside whichever commit crosses this many
pages, only if core.checkpoint's background thread (which the server runs) has fallen behind.
SQLite's default of 1,000 pages put a checkpoint, and its fsync, inside one request in a few
hundred: with a million users those pages are scattered, and that request's wait was the p99."""

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "synchronous": "normal",
    "wal_autocheckpoint": WAL_BACKSTOP_PAGES,
}

Q = TypeVar("Q", bound=peewee.SelectQuery)


ALIVE_BYPASS_SECONDS = 0.5
"""A pooled PostgreSQL connection back in the pool for less than this is not pinged on checkout."""


CONNECT_TIMEOUT_SECONDS = 5
"""How long a new PostgreSQL connection may take (`?connect_timeout=N` in the URL overrides it).
libpq's default is to wait forever, in C, where neither SIGINT nor a request's end reach it: a
database host that drops packets hung `acctkit migrate` for good and held every pool thread."""


class _PostgresPool(PooledPostgresqlDatabase):
    """peewee's PostgreSQL pool, minus a round trip per call.

    peewee 4 pings (`SELECT 1`) every connection it checks out, so each service call paid two
    round trips to the server: GET /api/me/, one statement, ran at about half its speed. Like
    HikariCP's aliveBypassWindowMs, a connection that was checked in moments ago (idle in no
    transaction, not closed by the driver) is handed out without the ping; one that sat idle
    longer is pinged as before. A server lost inside that half second fails one statement, as it
    would have failed it had it died just after the ping."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._returned_at: dict[int, float] = {}

    def _is_closed(self, conn: Any) -> bool:
        returned = self._returned_at.get(self.conn_key(conn))
        if (
            returned is not None
            and time.monotonic() - returned < ALIVE_BYPASS_SECONDS
            and not conn.closed
            and conn.get_transaction_status() == TRANSACTION_STATUS_IDLE
        ):
            return False
        return bool(super()._is_closed(conn))

    def _can_reuse(self, conn: Any) -> bool:
        reusable = bool(super()._can_reuse(conn))
        if reusable:
            self._returned_at[self.conn_key(conn)] = time.monotonic()
        return reusable

    def _close_raw(self, conn: Any) -> None:
        self._returned_at.pop(self.conn_key(conn), None)
        super()._close_raw(conn)


class DatabaseInUse(RuntimeError):
    """A second database was opened while another one is open in this process."""


class _Opened:
    """The process's one open database: its URL, and how many owners still use it."""

    lock = threading.Lock()
    url: str | None = None
    owners = 0
    sqlite_file: tuple[str, tuple[int, int]] | None = None  # its path and (device, inode)


def open_database(url: str, *, max_connections: int = 32) -> peewee.Database:
    """Open (lazily) the database named by `url` and bind the models' proxy to it.

    The proxy is one per process, so so is the database: a second owner of the same URL (two
    apps in one test, `acctkit serve`'s migration and its app) shares it, and it is closed when
    the last owner closes it. Closing it under a live owner would close connections its threads
    are using mid-statement (peewee 4's `close_all` does, and SQLite then crashes the process)."""
    with _Opened.lock:
        if _Opened.owners:
            if url != _Opened.url:
                raise DatabaseInUse(f"{_Opened.url} is open; close it before opening another")
            _Opened.owners += 1
            return database.obj
        db = _connect(url, max_connections)
        database.initialize(db)
        _Opened.url, _Opened.owners = url, 1
        _Opened.sqlite_file = (
            _sqlite_file(db.database) if isinstance(db, peewee.SqliteDatabase) else None
        )
        return db


def _connect(url: str, max_connections: int) -> peewee.Database:
    redaction.quiet_query_parameters()
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = url.removeprefix("sqlite:///")
        if path in ("", ":memory:"):
            raise _unusable(url, "acctkit needs a SQLite file: each thread gets its own :memory:")
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unusable(url, f"cannot make its directory: {exc.strerror}") from None
        return PooledSqliteDatabase(
            path,
            pragmas=SQLITE_PRAGMAS,
            max_connections=max_connections,
            stale_timeout=300,
            check_same_thread=False,
            autoconnect=False,
        )
    if parts.scheme in ("postgres", "postgresql"):
        try:
            params: dict[str, Any] = db_url.parse(url)
        except ValueError as exc:
            raise _unusable(url, str(exc)) from None
        if not params.get("database"):
            raise _unusable(url, "it names no database (postgresql://user@host:5432/DATABASE)")
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        return _PostgresPool(
            params.pop("database"),
            max_connections=max_connections,
            stale_timeout=300,
            autoconnect=False,
            **params,
        )
    raise _unusable(
        url,
        f"unsupported scheme {parts.scheme!r} "
        "(use sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE)",
    )


def _unusable(url: str, why: str) -> SettingsError:
    return SettingsError(f"ACCTKIT_DATABASE_URL {redaction.url(url)!r}: {why}")


def _sqlite_file(path: str) -> tuple[str, tuple[int, int]]:
    """The file SQLite will open, created now (empty is a valid database) so that it is the
    one `connection()` keeps checking for."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    except OSError as exc:
        raise _unusable(f"sqlite:///{path}", f"cannot open it: {exc.strerror}") from None
    try:
        found = os.fstat(fd)
    finally:
        os.close(fd)
    return os.path.abspath(path), (found.st_dev, found.st_ino)


def _refuse_lost_sqlite_file() -> None:
    """Connections opened before a SQLite file was deleted or replaced keep using the old one:
    every write would answer 201 and vanish at the next start. Refuse instead, until restart."""
    opened = _Opened.sqlite_file
    if opened is None:
        return
    path, identity = opened
    try:
        found = os.stat(path)
    except OSError:
        found = None
    if found is None or (found.st_dev, found.st_ino) != identity:
        log.error("SQLite file %s was deleted or replaced under the service; restart it", path)
        raise errors.DatabaseUnavailable()


def close_database() -> None:
    """Give up this owner's share of the database; the last owner closes every connection."""
    with _Opened.lock:
        if _Opened.owners == 0:
            return
        _Opened.owners -= 1
        if _Opened.owners:
            return
        _Opened.url, _Opened.sqlite_file = None, None
        db = database.obj
    if db is not None:
        db.close_all() if hasattr(db, "close_all") else db.close()


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


class BlockingCallOnEventLoop(RuntimeError):
    """A database call was made on a thread that runs an asyncio event loop."""


_reading_on_loop: ContextVar[bool] = ContextVar("acctkit_reading_on_loop", default=False)


def _refuse_event_loop_thread() -> None:
    if _reading_on_loop.get():
        return  # inside read_on_event_loop(): a read-only SQLite connection, by design
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop on this thread: an executor thread, a CLI, a sync test
    raise BlockingCallOnEventLoop(
        "a synchronous database call on the event loop thread would stall every request; "
        "run it in an executor (server.calls.call)"
    )


@contextlib.contextmanager
def connection() -> Iterator[None]:
    """Hold one pooled connection for the duration of a service call on this thread.

    Refuses to run where an event loop runs, so a handler that forgets the executor fails its
    first test instead of quietly stalling the service."""
    _refuse_event_loop_thread()
    _refuse_lost_sqlite_file()
    try:
        with database.connection_context():
            yield
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        # The server went away, restarted, or aborted the transaction (SQLite: still locked
        # after busy_timeout): the caller's work was rolled back, and saying so beats a 500.
        log.warning("database call failed: %s: %s", type(exc).__name__, _first_line(exc))
        raise errors.DatabaseUnavailable() from exc


@contextlib.contextmanager
def read_on_event_loop() -> Iterator[None]:
    """Let one short read run on the event loop thread: SQLite only, and read-only for real.

    The one exception to "no database call on the loop" (DESIGN.md), measured in
    docs/performance.md: an indexed SQLite read in WAL mode takes no lock a writer holds and
    costs less than the executor hop around it. A write in here (which could wait for SQLite's
    write lock with every request of the process behind it) fails the call, so code that one
    day writes in a loop read fails its first test. (`PRAGMA query_only` around each read would
    stop it before it happens, but its two statements cost GET /api/me/ a fifth of its speed.)
    PostgreSQL reads are network round trips and always go to the executor."""
    if not is_sqlite():
        raise BlockingCallOnEventLoop("only SQLite reads may run on the event loop thread")
    token = _reading_on_loop.set(True)
    try:
        _hold_loop_connection()
        raw = database.connection()
        changes = raw.total_changes
        yield
        if raw.total_changes != changes:
            raise BlockingCallOnEventLoop("a read on the event loop thread wrote to SQLite")
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        log.warning("database read failed: %s: %s", type(exc).__name__, _first_line(exc))
        raise errors.DatabaseUnavailable() from exc
    finally:
        _reading_on_loop.reset(token)


def _hold_loop_connection() -> None:
    """The loop thread keeps one pooled connection checked out for as long as the database is
    open (its context is entered and never left: close_database closes it), instead of a
    checkout and a check-in per read: GET /api/me/ 10,100 -> 11,100-11,350 req/s."""
    if database.is_closed():  # peewee's connection state is per thread
        database.connection_context().__enter__()


def _first_line(exc: BaseException) -> str:
    """The driver's message without the statement or parameters some drivers append."""
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""


@contextlib.contextmanager
def write_transaction() -> Iterator[None]:
    """A transaction that may read, decide and write without another writer slipping in between.

    SQLite takes the write lock at BEGIN (IMMEDIATE), so the whole transaction is serialized;
    PostgreSQL runs at READ COMMITTED and the rows the decision depends on are read with
    `locked()` (SELECT ... FOR UPDATE).
    """
    if is_sqlite():
        with database.atomic("IMMEDIATE"):
            yield
    else:
        with database.atomic():
            yield


def locked(query: Q) -> Q:
    """Lock the selected rows until the transaction ends (PostgreSQL; SQLite already holds the
    database write lock inside `write_transaction`)."""
    if is_sqlite():
        return query
    return query.for_update()


def locked_skip(query: Q) -> Q:
    """Like `locked`, but rows another transaction holds are skipped instead of waited for."""
    if is_sqlite():
        return query
    return query.for_update("FOR UPDATE SKIP LOCKED")


def integrity_target(exc: peewee.IntegrityError) -> str:
    """Name the unique column an IntegrityError is about, for both SQLite and PostgreSQL wording."""
    message = str(exc)
    for column in ("username_key", "username_skeleton", "email_key"):
        if column in message:
            return column
    return ""
