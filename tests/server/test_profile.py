"""PATCH /api/me/ over HTTP."""

from __future__ import annotations

import asyncio

from tests.conftest import Inbox
from tests.server.support import problem, sign_up


async def test_patch_changes_names_and_username(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    resp = await client.patch(
        "/api/me/",
        json={"first_name": " Alicia ", "last_name": "Pleasance", "username": "alice.l"},
        headers=alice.auth,
    )
    assert resp.status == 200, await resp.text()
    user = await resp.json()
    assert (user["first_name"], user["last_name"], user["username"]) == (
        "Alicia",
        "Pleasance",
        "alice.l",
    )
    assert user["email"] == alice.email and user["id"] == alice.id
    me = await (await client.get("/api/me", headers=alice.auth)).json()
    assert me == user
    login = await client.post(
        "/api/token/", json={"username": "ALICE.L", "password": "rabbit-hole-2026"}
    )
    assert login.status == 200


async def test_patch_without_trailing_slash_and_partial(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    resp = await client.patch("/api/me", json={"last_name": "L."}, headers=alice.auth)
    assert resp.status == 200
    user = await resp.json()
    assert (user["first_name"], user["last_name"], user["username"]) == ("Alice", "L.", "alice")


async def test_unknown_and_read_only_fields_are_ignored(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    me = await (await client.get("/api/me/", headers=alice.auth)).json()
    echoed = {**me, "id": 999, "email_verified": False, "avatar_url": "/x", "shoe_size": 42}
    echoed["first_name"] = "Alicia"
    resp = await client.patch("/api/me/", json=echoed, headers=alice.auth)
    assert resp.status == 200, await resp.text()
    user = await resp.json()
    assert user == {**me, "first_name": "Alicia"}


async def test_email_and_password_cannot_be_changed_here(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    resp = await client.patch(
        "/api/me/", json={"email": "new@example.com", "password": "x" * 20}, headers=alice.auth
    )
    body = await problem(resp, 400, "invalid")
    assert set(body["errors"]) == {"email", "password"}
    assert "/api/me/email/" in body["errors"]["email"][0]


async def test_validation_as_at_signup(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    resp = await client.patch(
        "/api/me/",
        json={"first_name": "", "last_name": "x" * 151, "username": "no spaces!"},
        headers=alice.auth,
    )
    body = await problem(resp, 400, "invalid")
    assert set(body["errors"]) == {"first_name", "last_name", "username"}
    resp = await client.patch("/api/me/", json={"username": 7}, headers=alice.auth)
    assert (await problem(resp, 400, "invalid"))["errors"] == {"username": ["Not a valid string."]}
    resp = await client.patch(
        "/api/me/", data=b"{nope", headers={**alice.auth, "Content-Type": "application/json"}
    )
    await problem(resp, 400, "parse_error")
    resp = await client.patch("/api/me/", json={"username": "x"})
    await problem(resp, 401, "not_authenticated")


async def test_taken_username_is_409_case_insensitively(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    await sign_up(client, inbox, "bob")
    resp = await client.patch("/api/me/", json={"username": "BOB"}, headers=alice.auth)
    await problem(resp, 409, "username_taken")
    resp = await client.patch("/api/me/", json={"username": "ALICE"}, headers=alice.auth)
    assert resp.status == 200 and (await resp.json())["username"] == "ALICE"


async def test_racing_renames_to_one_username_make_one_winner(client, inbox: Inbox) -> None:
    await _race(client, inbox)


async def test_racing_renames_on_postgresql(postgres_url: str, make_client, inbox: Inbox) -> None:
    await _race(await make_client(postgres_url), inbox)


async def _race(client, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    racers = [await sign_up(client, inbox, f"racer{i}") for i in range(8)]
    responses = await asyncio.gather(
        *[client.patch("/api/me/", json={"username": "winner"}, headers=r.auth) for r in racers]
    )
    assert sorted(r.status for r in responses) == [200] + [409] * 7
    for r in responses:
        if r.status == 409:
            assert (await r.json())["code"] == "username_taken"


async def test_openapi_lists_every_method_of_me(client) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    assert set(doc["paths"]["/api/me/"]) == {"get", "patch", "delete"}
    assert set(doc["paths"]["/api/me/avatar/"]) == {"put", "delete"}
    upload = doc["paths"]["/api/me/avatar/"]["put"]["requestBody"]["content"]
    assert {"multipart/form-data", "image/png", "image/jpeg", "image/webp", "image/gif"} == set(
        upload
    )
    assert "get" in doc["paths"]["/api/users/{id}/avatar"]
    assert set(doc["paths"]["/api/me/email/verify/"]["post"]["responses"]) >= {
        "200",
        "400",
        "404",
        "409",
        "410",
        "429",
    }
