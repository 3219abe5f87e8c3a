"""The conventions every route shares: problem documents, slashes, limits, request ids."""

from __future__ import annotations

import os
import threading
import time

import pytest
from aiohttp import web

from server.app import create_app
from server.calls import call, call_hashing
from server.routes import ROUTES
from tests.conftest import make_settings
from tests.server.support import problem, sign_up


@pytest.mark.parametrize("path", ["/api/token/", "/api/token"])
async def test_both_slash_forms_answer_without_redirect(client, path: str) -> None:
    resp = await client.post(path, json={"username": "x", "password": "y"}, allow_redirects=False)
    await problem(resp, 401, "invalid_credentials")


async def test_every_route_answers_in_both_slash_forms(client) -> None:
    for route in ROUTES:
        for path in (
            route.path,
            route.path.rstrip("/") if route.path.endswith("/") else route.path + "/",
        ):
            concrete = path.replace("{id}", "1").replace("{uid}", "x" * 43)
            resp = await client.request(route.method, concrete, allow_redirects=False)
            # A 404 the route itself gives (unknown id, dead link) is fine; the router's is not.
            # Pages (the reset link's) answer theirs as HTML; the router's would be a problem.
            own_404 = resp.status == 404 and (
                resp.content_type == "text/html"
                if route.produces == "text/html"
                else (await resp.json())["code"] != "not_found"
            )
            assert resp.status not in (301, 302, 307, 308, 404, 405) or own_404, (
                route.method,
                path,
                resp.status,
            )


async def test_malformed_json_is_400(client) -> None:
    resp = await client.post(
        "/api/token/", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    await problem(resp, 400, "parse_error")
    resp = await client.post("/api/token/", json=["a", "list"])
    await problem(resp, 400, "parse_error")
    resp = await client.post(
        "/api/token/", data=b"\xff\xfe", headers={"Content-Type": "application/json"}
    )
    await problem(resp, 400, "parse_error")


async def test_wrong_content_type_is_415(client) -> None:
    resp = await client.post(
        "/api/token/",
        data="username=a&password=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    await problem(resp, 415, "unsupported_media_type")


async def test_oversized_json_is_413(client) -> None:
    resp = await client.post("/api/token/", json={"username": "a" * 70_000, "password": "b"})
    await problem(resp, 413, "too_large")

    async def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(20):
            yield b" " * 8192

    resp = await client.post(
        "/api/token/", data=chunks(), headers={"Content-Type": "application/json"}
    )
    await problem(resp, 413, "too_large")


async def test_missing_and_mistyped_fields_are_field_errors(client) -> None:
    resp = await client.post("/api/token/", json={"username": 5})
    body = await problem(resp, 400, "invalid")
    assert body["errors"] == {
        "password": ["This field is required."],
        "username": ["Not a valid string."],
    }


async def test_unknown_route_and_wrong_method_are_problems(client) -> None:
    await problem(await client.get("/api/nothing-here"), 404, "not_found")
    resp = await client.delete("/api/token/")
    await problem(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]


async def test_request_id_is_echoed_or_made(client) -> None:
    resp = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    resp = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(resp.headers["X-Request-ID"]) == 32
    resp = await client.get("/api/nothing")
    assert resp.headers["X-Request-ID"]


async def test_authentication_failures_are_401_with_www_authenticate(client) -> None:
    resp = await client.get("/api/me/")
    await problem(resp, 401, "not_authenticated")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = await client.get("/api/me/", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    await problem(resp, 401, "token_invalid")
    resp = await client.get("/api/me/", headers={"Authorization": "Bearer not-a-jwt"})
    await problem(resp, 401, "token_invalid")
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


async def test_unexpected_errors_are_bare_500s_that_leak_nothing(
    aiohttp_client, sqlite_url, caplog
) -> None:
    app = create_app(make_settings(sqlite_url))

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("SELECT password_hash FROM user -- secret detail")

    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    resp = await client.get("/boom", headers={"X-Request-ID": "req-42"})
    body = await problem(resp, 500, "server_error")
    text = await resp.text()
    assert "secret" not in text and "password_hash" not in text and "Traceback" not in text
    assert "req-42" in body["detail"]
    assert "req-42" in caplog.text and "secret detail" in caplog.text


async def test_core_runs_off_the_event_loop_in_two_pools(aiohttp_client, sqlite_url) -> None:
    app = create_app(make_settings(sqlite_url))
    seen: dict[str, str] = {}

    async def where(request: web.Request) -> web.Response:
        seen["db"] = await call(request, lambda ctx: threading.current_thread().name)
        seen["hash"] = await call_hashing(request, lambda ctx: threading.current_thread().name)
        return web.Response()

    app.router.add_get("/where", where)
    client = await aiohttp_client(app)
    assert (await client.get("/where")).status == 200
    assert seen["db"].startswith("acctkit-db") and seen["hash"].startswith("acctkit-login")
    assert threading.main_thread().name not in seen.values()


async def test_only_argon2_runs_at_low_priority(make_client, inbox) -> None:
    """A signup's argon2 runs in the niced hashing pool; the service call around it, database
    work included, runs in a pool at the loop's own priority."""
    from server.hashing import HASHING_NICENESS

    client = await make_client()
    await sign_up(client, inbox)

    def niceness(name: str) -> list[int]:
        return [
            os.getpriority(os.PRIO_PROCESS, t.native_id)
            for t in threading.enumerate()
            if t.name.startswith(name) and t.native_id is not None
        ]

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    hashing, callers = niceness("acctkit-hash"), niceness("acctkit-login")
    assert hashing and callers
    assert set(hashing) == {min(19, base + HASHING_NICENESS)}
    assert set(callers) == {base}


async def test_health_and_readiness(client) -> None:
    assert await (await client.get("/healthz")).json() == {"status": "ok"}
    assert await (await client.get("/readyz/")).json() == {"status": "ok"}


async def test_openapi_describes_every_route(client) -> None:
    resp = await client.get("/api/openapi.json")
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    for route in ROUTES:
        assert route.method.lower() in doc["paths"][route.template], route.path
        if route.body is not None:  # every JSON-body route can answer the body conventions
            responses = doc["paths"][route.template][route.method.lower()]["responses"]
            assert {"400", "413", "415"} <= set(responses), route.path
            assert "parse_error" in responses["400"]["description"]
    signup = doc["paths"]["/api/auth/signup/"]["post"]["requestBody"]["content"]
    ref = signup["application/json"]["schema"]["$ref"].split("/")[-1]
    fields = doc["components"]["schemas"][ref]["properties"]
    assert fields["password"]["minLength"] == 8 and fields["email"]["format"] == "email"
    for path in doc["paths"].values():
        for op in path.values():
            for response in op["responses"].values():
                for content in response.get("content", {}).values():
                    ref = content["schema"].get("$ref", "")
                    assert not ref or ref.split("/")[-1] in doc["components"]["schemas"]


def test_hashing_pools_sharing_slots_never_hash_more_at_once_than_the_slots() -> None:
    """`serve --workers N` gives every worker's pool one semaphore of cores permits: 4 hashes in
    flight on 2 cores thrashed the L3 cache that 2 fit in (docs/performance.md)."""
    from server.hashing import HashingPool

    slots = threading.Semaphore(1)
    lock = threading.Lock()
    running, most = 0, 0

    def hash_like() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.005)
        with lock:
            running -= 1

    pools = [HashingPool(slots), HashingPool(slots)]  # two workers' pools, cores threads each
    futures = [pools[n % 2].submit(hash_like) for n in range(40)]
    for future in futures:
        future.result()
    for pool in pools:
        pool.shutdown()
    assert most == 1

    alone = HashingPool()  # one worker: its own cores threads bound it
    names = set(alone.map(lambda _: threading.current_thread().name, range(64)))
    alone.shutdown()
    assert 1 <= len(names) <= (os.cpu_count() or 2)
