"""One database per process, shared by its owners: closing it under a live owner crashed a worker.

Two apps in one process (a test with two clients, `acctkit serve`'s migration and its app) both
open the database. With peewee 4, `close_all` closes connections other threads are using, and the
first app's teardown closed them under the second app's outbox thread mid-statement (SQLite then
segfaulted the test worker). The last owner closes it; until then every owner's queries run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from core import db, schema
from core.models import User


def count_users_in_a_thread() -> int:
    result: list[int] = []

    def work() -> None:
        with db.connection():
            result.append(User.select().count())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return result[0]


def test_the_database_stays_open_until_its_last_owner_closes_it(database_url: str) -> None:
    db.open_database(database_url)
    try:
        schema.migrate()
        second = db.open_database(database_url)
        assert second is db.database.obj
        db.close_database()  # the first owner leaves; the second still runs queries
        assert count_users_in_a_thread() == 0
    finally:
        db.close_database()
    third = db.open_database(database_url)  # the last owner closed it: a fresh handle now
    assert third is not second
    db.close_database()


def test_a_connection_in_use_survives_another_owner_closing(database_url: str) -> None:
    db.open_database(database_url)
    schema.migrate()
    db.open_database(database_url)
    inside, closed = threading.Event(), threading.Event()
    counted: list[int] = []

    def long_call() -> None:
        with db.connection():
            inside.set()
            closed.wait(5)
            counted.append(User.select().count())

    thread = threading.Thread(target=long_call)
    thread.start()
    assert inside.wait(5)
    db.close_database()
    closed.set()
    thread.join()
    db.close_database()
    assert counted == [0]


def test_a_second_database_while_one_is_open_is_refused(tmp_path: Path, database_url: str) -> None:
    db.open_database(database_url)
    try:
        with pytest.raises(db.DatabaseInUse):
            db.open_database(f"sqlite:///{tmp_path / 'other.db'}")
    finally:
        db.close_database()
    db.open_database(f"sqlite:///{tmp_path / 'other.db'}")  # once closed, another may open
    db.close_database()


def _last_statement_of(pid: int) -> str:
    """What PostgreSQL says a backend ran last, asked over a connection of its own."""
    import psycopg2

    from tests.conftest import PG_DSN

    with psycopg2.connect(PG_DSN) as watcher, watcher.cursor() as cur:
        cur.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,))
        return str(cur.fetchone()[0])


def test_a_busy_pooled_postgresql_connection_is_not_pinged_but_an_idle_one_is(
    postgres_url: str,
) -> None:
    """One round trip per call while busy: peewee 4 pinged every checkout (SELECT 1), which
    halved GET /api/me/ on PostgreSQL; a connection idle past the bypass window is still pinged."""
    database = db.open_database(postgres_url, max_connections=1)
    try:
        with db.connection():
            pid = database.connection().get_backend_pid()
            database.execute_sql("SELECT 42 AS last_real_statement")
        with db.connection():  # checked out again at once: no ping
            assert "last_real_statement" in _last_statement_of(pid)
        time.sleep(db.ALIVE_BYPASS_SECONDS + 0.1)
        with db.connection():  # idle past the window: pinged before it is handed out
            assert database.connection().get_backend_pid() == pid
            assert _last_statement_of(pid).strip().upper() == "SELECT 1"
    finally:
        db.close_database()
