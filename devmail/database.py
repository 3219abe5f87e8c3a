"""SQLite persistence for --db; every method runs on the store's single database thread.

Only raw bytes, envelope and state are kept: the parsed view is rebuilt on load, so a better
parser also improves messages caught before it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from devmail.message import Envelope, Stored
from devmail.parse import parse


@dataclass(frozen=True)
class Row:
    stored: Stored
    read: bool = False
    tags: tuple[str, ...] = ()


@dataclass
class Database:
    path: str
    conn: sqlite3.Connection | None = field(default=None)

    def open(self) -> int:
        """Open (creating or upgrading the file) and return the last sequence number used."""
        conn = self.conn = sqlite3.connect(self.path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        with conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS message (id TEXT PRIMARY KEY, seq INTEGER NOT NULL"
                " UNIQUE, created TEXT NOT NULL, mail_from TEXT NOT NULL, rcpt_to TEXT NOT NULL,"
                " raw BLOB NOT NULL, read INTEGER NOT NULL DEFAULT 0)"
            )
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)")
            columns = {row[1] for row in conn.execute("PRAGMA table_info(message)")}
            if "tags" not in columns:  # files written before tags existed
                conn.execute("ALTER TABLE message ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'")
        (last_seq,) = conn.execute(
            "SELECT MAX(v) FROM (SELECT MAX(seq) AS v FROM message"
            " UNION ALL SELECT value FROM meta WHERE key = 'last_seq')"
        ).fetchone()
        return int(last_seq or 0)

    def rows(self, newest: int) -> Iterator[Row]:
        """The newest `newest` messages (0: all), oldest first, parsed as they are read."""
        sql = "SELECT id, seq, created, mail_from, rcpt_to, raw, read, tags FROM message"
        if newest:
            sql += f" WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM message) - {int(newest)}"
        for message_id, seq, created, mail_from, rcpt_to, raw, read, tags in self._conn().execute(
            sql + " ORDER BY seq"
        ):
            stored = Stored(
                id=message_id,
                seq=seq,
                created=datetime.fromisoformat(created),
                size=len(raw),
                envelope=Envelope(mail_from, tuple(json.loads(rcpt_to))),
                parsed=parse(bytes(raw)),
            )
            yield Row(stored, bool(read), tuple(json.loads(tags)))

    def ids_before(self, keep: int) -> list[str]:
        """IDs of every message but the newest `keep` (a smaller --max than last time)."""
        cursor = self._conn().execute(
            "SELECT id FROM message ORDER BY seq DESC LIMIT -1 OFFSET ?", (keep,)
        )
        return [row[0] for row in cursor]

    def _conn(self) -> sqlite3.Connection:
        assert self.conn is not None, "database not open"
        return self.conn

    def insert(self, stored: Stored, raw: bytes, evict: list[str], tags: tuple[str, ...]) -> None:
        conn = self._conn()
        with conn:
            conn.execute(
                "INSERT INTO message (id, seq, created, mail_from, rcpt_to, raw, tags)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    stored.id,
                    stored.seq,
                    stored.created.isoformat(),
                    stored.envelope.mail_from,
                    json.dumps(stored.envelope.rcpt_to),
                    raw,
                    json.dumps(tags),
                ),
            )
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_seq', ?)", (stored.seq,))
            conn.executemany("DELETE FROM message WHERE id = ?", [(i,) for i in evict])

    def delete(self, ids: list[str]) -> None:
        conn = self._conn()
        with conn:
            conn.executemany("DELETE FROM message WHERE id = ?", [(i,) for i in ids])

    def set_read(self, ids: list[str], read: bool) -> None:
        conn = self._conn()
        with conn:
            conn.executemany(
                "UPDATE message SET read = ? WHERE id = ?", [(int(read), i) for i in ids]
            )

    def set_tags(self, changes: dict[str, tuple[str, ...]]) -> None:
        conn = self._conn()
        with conn:
            conn.executemany(
                "UPDATE message SET tags = ? WHERE id = ?",
                [(json.dumps(tags), i) for i, tags in changes.items()],
            )

    def raw(self, message_id: str) -> bytes | None:
        row = self._conn().execute("SELECT raw FROM message WHERE id = ?", (message_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
            self.conn = None
