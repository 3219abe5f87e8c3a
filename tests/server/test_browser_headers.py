"""What a browser app and a cache see: CORS for listed origins only, no-store on personal data,
nosniff, and a Server header that names no framework version."""

from __future__ import annotations

import pytest

from tests.conftest import Inbox
from tests.server.support import PASSWORD, problem, sign_up

APP = "https://app.example.com"
CORS = {"cors_origins": (APP, "http://localhost:5173")}


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


@pytest.mark.parametrize("path", ["/api/token/", "/api/token", "/api/me/", "/api/users/1/avatar"])
async def test_a_listed_origins_preflight_is_answered(make_client, path: str) -> None:
    client = await make_client(**CORS)
    resp = await client.options(path, headers=preflight(APP))
    assert resp.status == 204, await resp.text()
    h = resp.headers
    assert h["Access-Control-Allow-Origin"] == APP
    allowed = {m.strip() for m in h["Access-Control-Allow-Methods"].split(",")}
    expected = {"/api/token": {"POST"}, "/api/me": {"GET", "PATCH", "DELETE"}}
    assert expected.get(path.rstrip("/"), {"GET"}) <= allowed and "OPTIONS" not in allowed
    assert {"Authorization", "Content-Type", "X-Request-ID"} <= {
        x.strip() for x in h["Access-Control-Allow-Headers"].split(",")
    }
    assert int(h["Access-Control-Max-Age"]) > 0
    assert "Origin" in h["Vary"]
    assert "Access-Control-Allow-Credentials" not in h
    assert h["X-Request-ID"]


async def test_unlisted_origins_and_cors_off_get_no_cors_headers(make_client) -> None:
    client = await make_client(**CORS)
    resp = await client.options("/api/token/", headers=preflight("https://evil.example"))
    await problem(resp, 405, "method_not_allowed")
    assert not [k for k in resp.headers if k.lower().startswith("access-control-")]
    resp = await client.post(
        "/api/token/", json={"username": "x", "password": "y"}, headers={"Origin": "https://e.x"}
    )
    assert "Access-Control-Allow-Origin" not in resp.headers and "Origin" in resp.headers["Vary"]
    off = await make_client()
    resp = await off.options("/api/token/", headers=preflight(APP))
    await problem(resp, 405, "method_not_allowed")
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_a_preflight_for_no_route_is_still_404(make_client) -> None:
    client = await make_client(**CORS)
    await problem(await client.options("/api/nope/", headers=preflight(APP)), 404, "not_found")


async def test_actual_responses_to_a_listed_origin_are_readable(make_client, inbox: Inbox) -> None:
    client = await make_client(**CORS)
    account = await sign_up(client, inbox)
    origin = {"Origin": "http://localhost:5173"}
    for resp in (
        await client.post(
            "/api/token/", json={"username": "alice", "password": PASSWORD}, headers=origin
        ),
        await client.get("/api/me/", headers={**origin, **account.auth}),
        await client.get("/api/me/", headers=origin),  # a 401 problem must be readable too
    ):
        h = resp.headers
        assert h["Access-Control-Allow-Origin"] == "http://localhost:5173"
        assert "Origin" in h["Vary"]
        exposed = {x.strip() for x in h["Access-Control-Expose-Headers"].split(",")}
        assert {"X-Request-ID", "Retry-After", "WWW-Authenticate", "ETag"} <= exposed
        assert "Access-Control-Allow-Credentials" not in h


async def test_tokens_and_personal_data_are_never_cached(client, inbox: Inbox) -> None:
    account = await sign_up(client, inbox)
    private = [
        await client.post("/api/token/", json={"username": "alice", "password": PASSWORD}),
        await client.post("/api/token/refresh/", json={"refresh": account.refresh}),
        await client.get("/api/me/", headers=account.auth),
        await client.get("/api/me", headers=account.auth),
        await client.get("/api/me/"),  # problem document
        await client.post("/api/token/", data=b"{nope", headers={"Content-Type": "text/plain"}),
        await client.get("/api/users/999/avatar"),  # problem document from the avatar route
        await client.post(
            "/api/auth/signup/",
            json={
                "first_name": "B",
                "last_name": "B",
                "username": "bob",
                "email": "bob@example.com",
                "password": PASSWORD,
            },
        ),
    ]
    for resp in private:
        assert resp.headers["Cache-Control"] == "no-store", (resp.url, resp.status)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.content_type in ("application/json", "application/problem+json")
    openapi = await client.get("/api/openapi.json")
    assert openapi.status == 200 and "no-store" not in openapi.headers.get("Cache-Control", "")
    assert openapi.headers["X-Content-Type-Options"] == "nosniff"
    health = await client.get("/healthz")
    assert health.headers["X-Content-Type-Options"] == "nosniff"


async def test_server_header_names_no_framework(client) -> None:
    """aiohttp_client talks over a real TCP socket, so these are the bytes a client gets."""
    for resp in (
        await client.get("/healthz"),
        await client.get("/nowhere"),
        await client.post("/api/token/", json=[]),
    ):
        assert resp.headers["Server"] == "acctkit"
        assert "aiohttp" not in resp.headers["Server"] and "Python" not in resp.headers["Server"]
