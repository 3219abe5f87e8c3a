"""GET /api/me/sessions/ and DELETE /api/me/sessions/{id}/, and revocation that kills access
tokens at once: token revoke, refresh reuse, password change, logout-all, ending a session."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg2
import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import Inbox
from tests.locks import until_waiting_async
from tests.server.support import (
    PASSWORD,
    Account,
    bearer,
    problem,
    sign_up,
)


@pytest.fixture
async def proxied(make_client: Any) -> TestClient:
    return await make_client(trusted_proxies=("127.0.0.1/32",))


async def _login(client: TestClient, who: Account, ip: str, agent: str) -> dict[str, str]:
    resp = await client.post(
        "/api/token/",
        json={"username": who.username, "password": PASSWORD},
        headers={"X-Forwarded-For": ip, "User-Agent": agent},
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _me_status(client: TestClient, access: str) -> int:
    return (await client.get("/api/me/", headers=bearer(access))).status


async def _sessions(client: TestClient, access: str, path: str = "/api/me/sessions/") -> Any:
    resp = await client.get(path, headers=bearer(access))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_sessions_are_listed_with_address_agent_and_the_current_one(
    proxied, inbox: Inbox
) -> None:
    alice = await sign_up(proxied, inbox)
    laptop = await _login(proxied, alice, "192.0.2.7", "Firefox/140.0")
    phone = await _login(proxied, alice, "2001:db8::9", "acctkit-tui/0.1")
    for path in ("/api/me/sessions/", "/api/me/sessions"):
        listed = await _sessions(proxied, laptop["access"], path)
        assert len(listed) == 3  # the signup's own login, the laptop, the phone
        assert all(
            set(s) == {"id", "created_at", "last_used_at", "ip", "user_agent", "current"}
            for s in listed
        )
        by_agent = {s["user_agent"]: s for s in listed}
        assert by_agent["Firefox/140.0"]["ip"] == "192.0.2.7"
        assert by_agent["Firefox/140.0"]["current"] is True
        assert by_agent["acctkit-tui/0.1"]["ip"] == "2001:db8::9"
        assert [s["current"] for s in listed].count(True) == 1
        assert listed[0]["created_at"].endswith(("Z", "+00:00"))
    mine = [s for s in await _sessions(proxied, phone["access"]) if s["current"]]
    assert mine[0]["user_agent"] == "acctkit-tui/0.1"
    resp = await proxied.get("/api/me/sessions/")
    await problem(resp, 401, "not_authenticated")


async def test_ending_a_session_kills_its_tokens_at_once(proxied, inbox: Inbox) -> None:
    alice = await sign_up(proxied, inbox)
    phone = await _login(proxied, alice, "192.0.2.8", "phone")
    listed = await _sessions(proxied, alice.access)
    phone_id = next(s["id"] for s in listed if s["user_agent"] == "phone")
    assert await _me_status(proxied, phone["access"]) == 200
    resp = await proxied.delete(f"/api/me/sessions/{phone_id}/", headers=alice.auth)
    assert resp.status == 204
    assert await _me_status(proxied, phone["access"]) == 401
    resp = await proxied.post("/api/token/refresh/", json={"refresh": phone["refresh"]})
    await problem(resp, 401, "token_invalid")
    assert phone_id not in {s["id"] for s in await _sessions(proxied, alice.access)}
    assert await _me_status(proxied, alice.access) == 200
    # Gone now, and without the trailing slash too.
    resp = await proxied.delete(f"/api/me/sessions/{phone_id}", headers=alice.auth)
    await problem(resp, 404, "session_not_found")


async def test_someone_elses_or_an_unknown_session_is_404(proxied, inbox: Inbox) -> None:
    alice = await sign_up(proxied, inbox)
    bob = await sign_up(proxied, inbox, "bob")
    bobs_id = (await _sessions(proxied, bob.access))[0]["id"]
    for login_id in (bobs_id, "no-such-session", "x" * 300, "%F0%9F%98%80"):
        resp = await proxied.delete(f"/api/me/sessions/{login_id}/", headers=alice.auth)
        await problem(resp, 404, "session_not_found")
    assert await _me_status(proxied, bob.access) == 200


@pytest.mark.postgres
async def test_an_id_postgresql_cannot_hold_is_404_there_too(
    make_client: Any, postgres_url: str, inbox: Inbox
) -> None:
    """A NUL in the path reached the query, and PostgreSQL refused it: a 500."""
    client = await make_client(postgres_url)
    alice = await sign_up(client, inbox)
    for login_id in ("a%00b", "%00", "a%01b"):
        resp = await client.delete(f"/api/me/sessions/{login_id}/", headers=alice.auth)
        await problem(resp, 404, "session_not_found")


async def test_revoke_and_refresh_reuse_kill_access_tokens_at_once(proxied, inbox: Inbox) -> None:
    alice = await sign_up(proxied, inbox)
    other = await _login(proxied, alice, "192.0.2.9", "other")
    resp = await proxied.post("/api/token/revoke/", json={"refresh": alice.refresh})
    assert resp.status == 204
    resp = await proxied.get("/api/me/", headers=alice.auth)
    await problem(resp, 401, "token_invalid")
    assert await _me_status(proxied, other["access"]) == 200

    rotated = await (
        await proxied.post("/api/token/refresh/", json={"refresh": other["refresh"]})
    ).json()
    resp = await proxied.post("/api/token/refresh/", json={"refresh": other["refresh"]})
    await problem(resp, 401, "token_reused")
    for access in (other["access"], rotated["access"]):
        assert await _me_status(proxied, access) == 401


async def test_password_change_and_logout_all_kill_other_sessions_access(
    proxied, inbox: Inbox
) -> None:
    alice = await sign_up(proxied, inbox)
    phone = await _login(proxied, alice, "192.0.2.10", "phone")
    resp = await proxied.post(
        "/api/me/password/",
        json={"current_password": PASSWORD, "new_password": "looking-glass-2027"},
        headers={**alice.auth, "X-Forwarded-For": "192.0.2.11", "User-Agent": "desk"},
    )
    assert resp.status == 200, await resp.text()
    fresh = await resp.json()
    assert await _me_status(proxied, phone["access"]) == 401
    assert await _me_status(proxied, alice.access) == 401
    listed = await _sessions(proxied, fresh["access"])
    assert [(s["ip"], s["user_agent"], s["current"]) for s in listed] == [
        ("192.0.2.11", "desk", True)
    ]
    resp = await proxied.post("/api/auth/logout-all/", headers=bearer(fresh["access"]))
    assert resp.status == 204
    assert await _me_status(proxied, fresh["access"]) == 401


async def test_signup_verify_records_where_the_login_started(make_client: Any, inbox) -> None:
    client = await make_client()
    alice = await sign_up(client, inbox)
    (only,) = await _sessions(client, alice.access)
    assert only["ip"] == "127.0.0.1" and only["current"] is True
    assert only["user_agent"] and "aiohttp" in only["user_agent"].lower()


_REVOKE_EVERY_LOGIN = {
    "logout-all": ("POST", "/api/auth/logout-all/", None, 204),
    "password change": (
        "POST",
        "/api/me/password/",
        {"current_password": PASSWORD, "new_password": "looking-glass-2027"},
        200,
    ),
    "account deletion": ("DELETE", "/api/me/", {"password": PASSWORD}, 204),
}


@pytest.mark.postgres
@pytest.mark.parametrize("revocation", list(_REVOKE_EVERY_LOGIN))
async def test_a_refresh_racing_a_revocation_of_every_login_is_not_a_deadlock(
    postgres_url: str, make_client: Any, inbox: Inbox, revocation: str
) -> None:
    """The refresh locked its login, then its new token's foreign key waited for the user row,
    which the revocation held while it waited for that login: PostgreSQL broke the deadlock
    by failing the refresh, a 503. The row locks are lined up here by holding the user row,
    then letting the revocation and the refresh queue behind it in that order."""
    application = f"acctkit-{uuid.uuid4().hex[:12]}"
    client = await make_client(f"{postgres_url}&application_name={application}")
    alice = await sign_up(client, inbox)
    method, path, body, ok = _REVOKE_EVERY_LOGIN[revocation]
    holder = psycopg2.connect(postgres_url)
    try:
        holder.cursor().execute('SELECT id FROM "user" WHERE id = %s FOR UPDATE', (alice.id,))
        revoking = asyncio.ensure_future(
            client.request(method, path, json=body, headers=alice.auth)
        )
        await until_waiting_async(application, 1)
        refreshing = asyncio.ensure_future(
            client.post("/api/token/refresh/", json={"refresh": alice.refresh})
        )
        await until_waiting_async(application, 2)
    finally:
        holder.rollback()
        holder.close()
    revoked, refreshed = await revoking, await refreshing
    assert revoked.status == ok, await revoked.text()
    await problem(refreshed, 401, "token_invalid")


@pytest.mark.postgres
@pytest.mark.parametrize("ending", ["token revoke", "ending the session"])
async def test_ending_a_login_racing_the_deletion_of_its_account_is_not_a_deadlock(
    postgres_url: str, make_client: Any, inbox: Inbox, ending: str
) -> None:
    """Revoking a login (or ending it as a session) locked the login, then its refresh tokens;
    the deletion, holding the user, deleted those tokens and then (ON DELETE CASCADE) the
    login: each waited for the other, and PostgreSQL failed one of them, a 503. The requests
    are lined up behind a held login row: the ending first, then the deletion."""
    application = f"acctkit-{uuid.uuid4().hex[:12]}"
    client = await make_client(f"{postgres_url}&application_name={application}")
    alice = await sign_up(client, inbox)
    (login,) = await _sessions(client, alice.access)
    if ending == "token revoke":
        request = client.post("/api/token/revoke/", json={"refresh": alice.refresh})
    else:
        request = client.delete(f"/api/me/sessions/{login['id']}/", headers=alice.auth)
    holder = psycopg2.connect(postgres_url)
    try:
        holder.cursor().execute("SELECT id FROM login WHERE id = %s FOR UPDATE", (login["id"],))
        ending_it = asyncio.ensure_future(request)
        await until_waiting_async(application, 1)
        deleting = asyncio.ensure_future(
            client.delete("/api/me/", json={"password": PASSWORD}, headers=alice.auth)
        )
        await until_waiting_async(application, 2)
    finally:
        holder.rollback()
        holder.close()
    ended, deleted = await ending_it, await deleting
    assert ended.status == 204, await ended.text()
    assert deleted.status == 204, await deleted.text()


@pytest.mark.postgres
async def test_a_failed_login_racing_a_new_password_that_clears_failures_is_not_a_deadlock(
    postgres_url: str, make_client: Any, inbox: Inbox
) -> None:
    """A failed login locks the rows counting its identifier with its address, then its
    identifier alone (key order); a new password cleared the identifier's row, then every
    address's row of it. Each held one the other wanted, and PostgreSQL failed one of them, a
    503. Lined up behind the held address row: the failed login waits there first, then the
    password change takes the identifier's row and waits there too."""
    application = f"acctkit-{uuid.uuid4().hex[:12]}"
    client = await make_client(
        f"{postgres_url}&application_name={application}", trusted_proxies=("127.0.0.1/32",)
    )
    alice = await sign_up(client, inbox)

    def wrong_password() -> Any:
        return client.post(
            "/api/token/",
            json={"username": alice.username, "password": "not-the-password"},
            headers={"X-Forwarded-For": "192.0.2.9"},
        )

    await problem(await wrong_password(), 401, "invalid_credentials")
    holder = psycopg2.connect(postgres_url)
    try:
        held = holder.cursor()
        held.execute("SELECT key FROM rate_limit WHERE key LIKE 'login-id-ip:%' FOR UPDATE")
        assert held.rowcount == 1
        failing = asyncio.ensure_future(wrong_password())
        await until_waiting_async(application, 1)
        changing = asyncio.ensure_future(
            client.post(
                "/api/me/password/",
                json={"current_password": PASSWORD, "new_password": "looking-glass-2027"},
                headers=alice.auth,
            )
        )
        await until_waiting_async(application, 2)
    finally:
        holder.rollback()
        holder.close()
    failed, changed = await failing, await changing
    await problem(failed, 401, "invalid_credentials")
    assert changed.status == 200, await changed.text()
