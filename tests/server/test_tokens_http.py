"""The token routes over HTTP, as a SimpleJWT client uses them."""

from __future__ import annotations

import asyncio

import jwt

from tests.conftest import Inbox, make_settings
from tests.server.support import PASSWORD, bearer, problem, sign_up


async def test_login_with_username_email_or_email_field(client, inbox: Inbox) -> None:
    await sign_up(client, inbox)
    for body in (
        {"username": "alice"},
        {"username": "ALICE@example.com"},
        {"email": "alice@example.com"},
    ):
        resp = await client.post("/api/token/", json={**body, "password": PASSWORD})
        assert resp.status == 200, await resp.text()
        assert set(await resp.json()) == {"access", "refresh"}


async def test_refresh_rotation_and_reuse_over_http(client, inbox: Inbox) -> None:
    tokens = await sign_up(client, inbox)
    resp = await client.post("/api/token/refresh/", json={"refresh": tokens.refresh})
    assert resp.status == 200
    rotated = await resp.json()
    assert rotated["refresh"] != tokens.refresh
    resp = await client.post("/api/token/refresh/", json={"refresh": tokens.refresh})
    assert resp.status == 401 and (await resp.json())["code"] == "token_reused"
    resp = await client.post("/api/token/refresh/", json={"refresh": rotated["refresh"]})
    assert resp.status == 401 and (await resp.json())["code"] == "token_invalid"


async def test_two_racing_refreshes_over_http(client, inbox: Inbox) -> None:
    tokens = await sign_up(client, inbox)
    responses = await asyncio.gather(
        *[client.post("/api/token/refresh/", json={"refresh": tokens.refresh}) for _ in range(2)]
    )
    assert sorted(r.status for r in responses) == [200, 401]


async def test_two_tabs_refreshing_at_once_with_a_reuse_interval(make_client, inbox) -> None:
    """ACCTKIT_REFRESH_REUSE_INTERVAL: both tabs get 200 and the same new refresh token, and the
    login lives on; the old token presented after the successor was used is reuse again."""
    client = await make_client(refresh_reuse_interval=10)
    tokens = await sign_up(client, inbox)
    responses = await asyncio.gather(
        *[client.post("/api/token/refresh/", json={"refresh": tokens.refresh}) for _ in range(2)]
    )
    assert [r.status for r in responses] == [200, 200]
    first, second = [await r.json() for r in responses]
    assert first["refresh"] == second["refresh"]
    for access in (first["access"], second["access"]):
        assert (await client.get("/api/me/", headers=bearer(access))).status == 200
    resp = await client.post("/api/token/refresh/", json={"refresh": first["refresh"]})
    assert resp.status == 200
    resp = await client.post("/api/token/refresh/", json={"refresh": tokens.refresh})
    await problem(resp, 401, "token_reused")


async def test_verify_and_revoke(client, inbox: Inbox) -> None:
    tokens = await sign_up(client, inbox)
    assert (await client.post("/api/token/verify/", json={"token": tokens.access})).status == 200
    resp = await client.post("/api/token/revoke/", json={"refresh": tokens.refresh})
    assert resp.status == 204
    resp = await client.post("/api/token/verify/", json={"token": tokens.refresh})
    assert resp.status == 401 and (await resp.json())["code"] == "token_invalid"


async def test_logout_all_kills_access_tokens_at_once(client, inbox: Inbox) -> None:
    tokens = await sign_up(client, inbox)
    other = await (
        await client.post("/api/token/", json={"username": "alice", "password": PASSWORD})
    ).json()
    assert (await client.get("/api/me", headers=bearer(other["access"]))).status == 200
    resp = await client.post("/api/auth/logout-all/", headers=bearer(tokens.access))
    assert resp.status == 204
    for access in (tokens.access, other["access"]):
        resp = await client.get("/api/me/", headers=bearer(access))
        assert resp.status == 401 and (await resp.json())["code"] == "token_invalid"
    resp = await client.post("/api/token/refresh/", json={"refresh": other["refresh"]})
    assert resp.status == 401


async def test_login_rate_limit_per_ip_has_retry_after(client) -> None:
    """The per-address request limit, apart from the per-identifier failure limits: 30 logins a
    minute from one address, each naming another identifier."""
    statuses = []
    for i in range(31):
        resp = await client.post("/api/token/", json={"username": f"x{i}", "password": "y"})
        statuses.append(resp.status)
    assert statuses[:30] == [401] * 30 and statuses[30] == 429
    assert int(resp.headers["Retry-After"]) >= 1
    assert (await resp.json())["code"] == "too_many_attempts"


async def test_out_of_range_time_claims_are_401_never_500(client, inbox: Inbox) -> None:
    """A token signed with the right key but carrying odd NumericDates (an auditor with the key,
    or a buggy issuer sharing it) is refused like any bad token, on every route that reads one."""
    secret = make_settings("sqlite:///unused").secret_key
    assert secret is not None
    account = await sign_up(client, inbox)
    claims = jwt.decode(account.access, options={"verify_signature": False})
    for claim in ("exp", "iat", "nbf"):
        for value in (1e20, -1e20, 10**20, 1.5, "1767268800", True, False):
            forged = jwt.encode({**claims, claim: value}, secret, algorithm="HS256")
            resp = await client.get("/api/me/", headers=bearer(forged))
            body = await problem(resp, 401, "token_invalid")
            assert resp.headers["WWW-Authenticate"].startswith("Bearer"), (claim, value, body)
            resp = await client.post("/api/token/verify/", json={"token": forged})
            await problem(resp, 401, "token_invalid")
