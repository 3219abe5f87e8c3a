"""POST /api/me/password/: a new login for this client, every other login revoked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import Inbox
from tests.server.test_reset_flow import NEW, OLD, create_user, login, mailed_uid, settle


@pytest.fixture
async def client(make_client: Any) -> AsyncIterator[TestClient]:
    client = await make_client()
    yield client
    await settle(client)


def bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


async def change(client: TestClient, access: str, current: str, new: str) -> Any:
    return await client.post(
        "/api/me/password/",
        json={"current_password": current, "new_password": new},
        headers=bearer(access),
    )


async def test_change_returns_fresh_tokens_and_revokes_every_other_login(
    client, inbox: Inbox
) -> None:
    await create_user(client)
    this = await (await login(client, OLD)).json()
    other = await (await login(client, OLD)).json()
    resp = await change(client, this["access"], OLD, NEW)
    assert resp.status == 200, await resp.text()
    fresh = await resp.json()
    assert set(fresh) == {"access", "refresh"}
    assert OLD not in await resp.text() and NEW not in await resp.text()

    for old in (this, other):
        assert (await client.get("/api/me/", headers=bearer(old["access"]))).status == 401
        refreshed = await client.post("/api/token/refresh/", json={"refresh": old["refresh"]})
        assert refreshed.status == 401
    assert (await client.get("/api/me/", headers=bearer(fresh["access"]))).status == 200
    rotated = await client.post("/api/token/refresh", json={"refresh": fresh["refresh"]})
    assert rotated.status == 200
    assert (await login(client, OLD)).status == 401
    assert (await login(client, NEW)).status == 200

    notice = await inbox.next_to("alice@example.com", flow="password-changed")
    assert NEW not in notice.as_string() and OLD not in notice.as_string()


async def test_wrong_current_password_is_403(client) -> None:
    await create_user(client)
    tokens = await (await login(client, OLD)).json()
    resp = await change(client, tokens["access"], "not-my-password", NEW)
    assert resp.status == 403
    body = await resp.json()
    assert body["code"] == "wrong_password"
    assert (await client.get("/api/me", headers=bearer(tokens["access"]))).status == 200


async def test_weak_new_password_is_400_with_reasons(client) -> None:
    await create_user(client)
    tokens = await (await login(client, OLD)).json()
    for weak, reason in (
        ("Zq9!k", "too short"),
        ("iloveyou", "too common"),
        ("alice-forever", "similar to the username"),
        ("x" * 1025, "too long"),
    ):
        resp = await change(client, tokens["access"], OLD, weak)
        assert resp.status == 400
        body = await resp.json()
        assert body["code"] == "invalid"
        assert any(reason in r for r in body["errors"]["new_password"]), body
        assert weak not in await resp.text()
    assert (await login(client, OLD)).status == 200


async def test_needs_authentication_and_both_fields(client) -> None:
    resp = await client.post(
        "/api/me/password/", json={"current_password": OLD, "new_password": NEW}
    )
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    await create_user(client)
    tokens = await (await login(client, OLD)).json()
    resp = await client.post(
        "/api/me/password", json={"new_password": NEW}, headers=bearer(tokens["access"])
    )
    assert resp.status == 400
    assert "current_password" in (await resp.json())["errors"]


async def test_change_kills_an_outstanding_reset_link(client, inbox: Inbox) -> None:
    await create_user(client)
    uid = await mailed_uid(client, inbox)
    tokens = await (await login(client, OLD)).json()
    assert (await change(client, tokens["access"], OLD, NEW)).status == 200
    resp = await client.get(f"/api/auth/password/reset/{uid}/")
    assert resp.status == 404


async def test_repeated_wrong_passwords_are_throttled(client) -> None:
    await create_user(client)
    tokens = await (await login(client, OLD)).json()
    for _ in range(10):
        assert (await change(client, tokens["access"], "guess-guess", NEW)).status == 403
    resp = await change(client, tokens["access"], OLD, NEW)
    assert resp.status == 429
    assert (await resp.json())["code"] == "too_many_attempts"
    assert int(resp.headers["Retry-After"]) >= 1
