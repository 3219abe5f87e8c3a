"""One database per process, shared by its owners: closing it under a live owner crashed a worker.

Two apps in one process (a test with two clients, `acctkit serve`'s migration and its app) both
open the database. With peewee 4, `close_all` closes connections other threads are using, and the
first app's teardown closed them under the second app's outbox thread mid-statement (SQLite then
segfaulted the test worker). The last owner closes it; until then every owner's queries run."""

from __future__ import annotations

import threading
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
