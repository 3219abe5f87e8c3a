"""The published document says what the running server enforces, from the same declarations."""

from __future__ import annotations

from typing import Any

from core import errors
from server.routes import ROUTES
from tests.conftest import Inbox
from tests.server.support import PASSWORD, problem, sign_up

NEW_PASSWORD_FIELDS = [
    ("SignupRequest", "password"),
    ("PasswordChange", "new_password"),
    ("ResetConfirm", "new_password"),
]


def body_schema(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    ref = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return doc["components"]["schemas"][ref["$ref"].split("/")[-1]]


async def test_the_password_minimum_is_the_running_setting(make_client, inbox: Inbox) -> None:
    client = await make_client(password_min_length=12)
    doc = await (await client.get("/api/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    for struct, field in NEW_PASSWORD_FIELDS:
        assert schemas[struct]["properties"][field]["minLength"] == 12, struct
    # ... and the server refuses 11 characters, accepts 12.
    body = {
        "first_name": "A",
        "last_name": "B",
        "username": "dodo",
        "email": "dodo@example.com",
        "password": "qwzx-vbnm-p",
    }
    resp = await client.post("/api/auth/signup/", json=body)
    errors_ = (await problem(resp, 400, "invalid"))["errors"]
    assert any("at least 12" in r for r in errors_["password"])
    resp = await client.post("/api/auth/signup/", json={**body, "password": "qwzx-vbnm-pl"})
    assert resp.status == 202, await resp.text()


async def test_the_default_minimum_is_8(client) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    assert body_schema(doc, "/api/auth/signup/", "post")["properties"]["password"]["minLength"] == 8


async def test_username_or_email_is_expressed_for_login(client) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    login = body_schema(doc, "/api/token/", "post")
    assert login["required"] == ["password"]
    assert login["anyOf"] == [{"required": ["username"]}, {"required": ["email"]}]


async def test_patch_me_documents_and_accepts_an_empty_body(client, inbox: Inbox) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    patch = doc["paths"]["/api/me/"]["patch"]
    assert patch["requestBody"]["required"] is False
    assert not body_schema(doc, "/api/me/", "patch").get("required")
    alice = await sign_up(client, inbox)
    resp = await client.patch("/api/me/", headers=alice.auth)
    assert resp.status == 200


async def test_every_problem_code_is_listed_from_the_error_classes(client) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    known = {cls.code: cls.status for cls in _account_errors()}
    for route in ROUTES:
        responses = doc["paths"][route.template][route.method.lower()]["responses"]
        for status, codes in route.problems().items():
            schema = responses[str(status)]["content"]["application/problem+json"]["schema"]
            assert schema["properties"]["code"]["enum"] == codes
            assert all(known[c] == status for c in codes), (route.path, codes)
    token = doc["paths"]["/api/token/"]["post"]["responses"]
    assert token["400"]["content"]["application/problem+json"]["schema"]["properties"]["code"][
        "enum"
    ] == ["invalid", "parse_error"]
    assert {"413", "415", "401", "429"} <= set(token)
    me = doc["paths"]["/api/me/password/"]["post"]["responses"]
    assert me["401"]["description"] == "code: not_authenticated, token_invalid"
    assert errors.MethodNotAllowed.code in doc["info"]["description"]


async def test_answers_match_the_declared_struct(client, inbox: Inbox) -> None:
    """What the server sends for a real login is exactly the TokenPair shape, no more."""
    alice = await sign_up(client, inbox)
    resp = await client.post("/api/token/", json={"username": "alice", "password": PASSWORD})
    assert set(await resp.json()) == {"access", "refresh"}
    me = await (await client.get("/api/me/", headers=alice.auth)).json()
    assert set(me) == {
        "id",
        "username",
        "email",
        "first_name",
        "last_name",
        "avatar_url",
        "date_joined",
        "email_verified",
    }
    assert me["date_joined"].endswith("Z")


def _account_errors() -> list[type[errors.AccountError]]:
    found, todo = [], [errors.AccountError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found
