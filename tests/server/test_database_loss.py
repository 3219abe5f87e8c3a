"""The database lost under a request: a 503 problem the client can retry, never a 500, and the
next request is served on a fresh connection.

PostgreSQL ends every backend the service holds (as a restart or a failover does); the pool may
hand one of the dead connections out without a ping (it was busy a moment ago), so the first
request can fail. It must fail as `database_unavailable`, with nothing changed."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from tests.conftest import PG_DSN, Inbox
from tests.server.support import problem, sign_up


def end_backends_of(application: str) -> int:
    """Terminate the service's connections only (tests in other workers share the server)."""
    with psycopg2.connect(PG_DSN) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application,),
        )
        return cur.rowcount


async def test_a_lost_postgresql_connection_answers_503_then_recovers(
    postgres_url: str, make_client: Any, inbox: Inbox
) -> None:
    application = f"acctkit-{uuid.uuid4().hex[:12]}"
    client = await make_client(f"{postgres_url}&application_name={application}")
    account = await sign_up(client, inbox)
    resp = await client.get("/api/me/", headers=account.auth)
    assert resp.status == 200
    assert end_backends_of(application) >= 1

    statuses = []
    for _ in range(6):  # every pooled connection is dead; each is found out once
        resp = await client.get("/api/me/", headers=account.auth)
        statuses.append(resp.status)
        if resp.status == 503:
            body = await resp.json()
            assert body["code"] == "database_unavailable", body
            assert resp.content_type == "application/problem+json"
    assert 500 not in statuses and set(statuses) <= {200, 503}, statuses
    assert statuses[-1] == 200, statuses


async def test_a_deleted_sqlite_file_answers_503_instead_of_writing_into_the_void(
    make_client: Any, sqlite_url: str, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Connections opened before the file was deleted keep writing to the unlinked inode: the
    signup answered 201 and /readyz 200, and both were gone at the next start."""
    client = await make_client()
    account = await sign_up(client, inbox)
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()

    resp = await client.post(
        "/api/auth/signup/",
        json={
            "username": "bob",
            "email": "bob@example.com",
            "password": "correct-horse-battery",
            "first_name": "Bob",
            "last_name": "B",
        },
    )
    await problem(resp, 503, "database_unavailable")
    await problem(await client.get("/api/me/", headers=account.auth), 503, "database_unavailable")
    await problem(await client.get("/readyz"), 503, "not_ready")
    assert f"SQLite file {path} was deleted or replaced" in caplog.text
    await asyncio.sleep(0.3)  # a few sender passes meet the lost file too: a line each, no trace
    sender = [r for r in caplog.records if r.name == "acctkit.sender" and r.levelno >= 30]
    assert sender and not any(r.exc_info for r in sender), [r.getMessage() for r in sender]
