"""SQLite's write-ahead log moved into the database file off the request path.

In WAL mode a commit appends pages to the log; a checkpoint copies them back into the database
file and fsyncs it. By default SQLite runs the checkpoint inside the commit that makes the log
reach 1,000 pages, so one request in a few hundred waits for it. That wait grows with the
database: with a million users each login dirties a page of its own, and the checkpoint copies
a thousand scattered pages instead of the same few again. SQLite's own advice for applications
that care about latency is to checkpoint from a thread of their own, which this is: a PASSIVE
checkpoint every `interval` seconds, which never blocks readers or writers and gives up at once
when another process's checkpoint is running. core.db keeps SQLite's own checkpoint as a
backstop at WAL_BACKSTOP_PAGES, for processes that run no checkpointer (the CLI, tests).
"""

from __future__ import annotations

import logging
import threading

from core import errors
from core.db import connection, database, is_sqlite

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.25


class Checkpointer:
    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start checkpointing the open database, if it is SQLite; PostgreSQL has its own."""
        if not is_sqlite() or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="acctkit-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with connection():
                    database.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except errors.DatabaseUnavailable:
                pass  # busy or closing: the next round tries again, and the backstop holds
