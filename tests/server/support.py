"""A signed-in user made the way a client makes one (signup, the code from the mail the real
SMTP inbox received, verify), and the problem-document assertion every HTTP test uses."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import psycopg2
from aiohttp.test_utils import TestClient

from tests.conftest import PG_DSN, Inbox, code_in

PASSWORD = "rabbit-hole-2026"


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    email: str
    access: str
    refresh: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.access)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_up(client: TestClient, inbox: Inbox, name: str = "alice") -> Account:
    email = f"{name}@example.com"
    resp = await client.post(
        "/api/auth/signup/",
        json={
            "first_name": name.title(),
            "last_name": "Liddell",
            "username": name,
            "email": email,
            "password": PASSWORD,
        },
    )
    assert resp.status == 202, await resp.text()
    signup_id = (await resp.json())["signup_id"]
    mail = await inbox.wait_for(lambda m: m["X-Acctkit-Ref"] == signup_id)
    resp = await client.post(
        "/api/auth/signup/verify/", json={"signup_id": signup_id, "code": code_in(mail)}
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    return Account(body["user"]["id"], name, email, body["access"], body["refresh"])


async def log_in(client: TestClient, who: Account) -> Account:
    """A fresh login, for tests that move the clock past the access token's 5 minutes."""
    resp = await client.post("/api/token/", json={"username": who.username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    return Account(who.id, who.username, who.email, body["access"], body["refresh"])


async def problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    """Assert `resp` is an RFC 9457 problem document of the contract with this status and code."""
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"] == "about:blank" and body["title"] and body["detail"]
    return body


def _waiting_for_locks(application: str) -> int:
    with psycopg2.connect(PG_DSN) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND wait_event_type = 'Lock'",
            (application,),
        )
        return int(cur.fetchone()[0])


async def until_waiting_for_locks(application: str, count: int) -> None:
    """Return once `count` PostgreSQL connections of the service (named `application` in its
    URL) wait for a lock: how a test lines requests up behind a row it holds."""
    for _ in range(500):
        if _waiting_for_locks(application) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {count} requests of the service wait for a lock")
