"""Issue 9's hostile bodies, one by one: each is a 4xx problem document, never a 500."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import jwt
import pytest

from server.keys import CONTEXT
from tests.conftest import Inbox
from tests.server.support import PASSWORD, problem, sign_up
from tests.wire import MALFORMED_KINDS, malformed_request, malformed_request_answer

JSON = {"Content-Type": "application/json"}

# The 8 routes where a lone surrogate used to reach Peewee (UnicodeEncodeError, 500), and the
# field that carried it.
SURROGATE_ROUTES = [
    ("/api/token/", {"username": "alice", "password": "\ud800"}, "password"),
    ("/api/token/refresh/", {"refresh": "\ud800"}, "refresh"),
    ("/api/token/verify/", {"token": "x\udfff"}, "token"),
    (
        "/api/auth/signup/",
        {
            "first_name": "A",
            "last_name": "B",
            "username": "carol",
            "email": "carol@example.com",
            "password": "long enough \ud800",
        },
        "password",
    ),
    ("/api/auth/signup/verify/", {"signup_id": "\ud800", "code": "123456"}, "signup_id"),
    ("/api/auth/signup/resend/", {"signup_id": "\ud800"}, "signup_id"),
    (
        "/api/auth/password/reset/confirm/",
        {"uid": "abc", "new_password": "\ud800" * 9, "re_new_password": "\ud800" * 9},
        "new_password",
    ),
    ("/api/me/password/", {"current_password": PASSWORD, "new_password": "\ud800x"}, None),
]


def raw(body: object) -> bytes:
    """JSON exactly as a hostile client writes it: ensure_ascii keeps "\\ud800" as an escape."""
    return json.dumps(body).encode()


@pytest.mark.parametrize(("path", "body", "field"), SURROGATE_ROUTES)
async def test_a_lone_surrogate_is_a_field_error(
    client, inbox: Inbox, path: str, body: dict[str, str], field: str | None
) -> None:
    alice = await sign_up(client, inbox)
    resp = await client.post(path, data=raw(body), headers={**JSON, **alice.auth})
    errors = (await problem(resp, 400, "invalid"))["errors"]
    field = field or "new_password"
    assert errors[field] == ["Not valid Unicode (a lone surrogate)."], errors


async def test_nul_and_control_characters_are_field_errors(client, inbox: Inbox) -> None:
    resp = await client.post("/api/token/", json={"username": "al\x00ice", "password": "a\x1bb"})
    errors = (await problem(resp, 400, "invalid"))["errors"]
    assert errors == {
        "username": ["Control characters are not allowed."],
        "password": ["Control characters are not allowed."],
    }
    alice = await sign_up(client, inbox)
    resp = await client.patch("/api/me/", json={"first_name": "A\x85"}, headers=alice.auth)
    assert (await problem(resp, 400, "invalid"))["errors"]["first_name"]


async def test_passwords_may_hold_spaces_and_any_printable_unicode(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    new = "  correct horse 🐎 bätterý  "
    resp = await client.post(
        "/api/me/password/",
        json={"current_password": PASSWORD, "new_password": new},
        headers=alice.auth,
    )
    assert resp.status == 200, await resp.text()
    resp = await client.post("/api/token/", json={"username": "alice", "password": new})
    assert resp.status == 200, await resp.text()


async def test_deep_nesting_under_the_size_limit_is_a_parse_error(client) -> None:
    deep = b'{"username": ' + b"[" * 30_000 + b"]" * 30_000 + b', "password": "x"}'
    assert len(deep) < 64 * 1024
    resp = await client.post("/api/token/", data=deep, headers=JSON)
    body = await problem(resp, 400, "parse_error")
    assert "nested" in body["detail"]
    unbalanced = b"[" * 60_000
    resp = await client.post("/api/token/", data=unbalanced, headers=JSON)
    await problem(resp, 400, "parse_error")
    # Brackets inside strings are text, not nesting.
    resp = await client.post(
        "/api/token/", json={"username": "[" * 1000, "password": "{" * 1000}, headers=JSON
    )
    await problem(resp, 401, "invalid_credentials")


@pytest.mark.parametrize(
    "value", [5, -1, 1e20, 10**30, -(10**30), 1.5, True, [], {}, ["123456"]], ids=repr
)
async def test_numbers_and_other_values_where_a_string_belongs(client, value: object) -> None:
    resp = await client.post("/api/auth/signup/verify/", json={"signup_id": "x", "code": value})
    errors = (await problem(resp, 400, "invalid"))["errors"]
    assert errors == {"code": ["Not a valid string."]}


async def test_a_code_sent_as_a_number_stays_refused(client, inbox: Inbox) -> None:
    body = b'{"signup_id":"x","code":042917}'  # not even JSON: a leading zero
    resp = await client.post("/api/auth/signup/verify/", data=body, headers=JSON)
    await problem(resp, 400, "parse_error")
    body = b'{"signup_id":"x","code":42917}'
    resp = await client.post("/api/auth/signup/verify/", data=body, headers=JSON)
    assert (await problem(resp, 400, "invalid"))["errors"]["code"] == ["Not a valid string."]


async def test_huge_numbers_and_non_json_constants_are_4xx(client) -> None:
    huge = b'{"username": 1' + b"0" * 5000 + b', "password": "x"}'  # past int's digit limit
    resp = await client.post("/api/token/", data=huge, headers=JSON)
    assert resp.status == 400 and (await resp.json())["code"] in ("invalid", "parse_error")
    assert "set_int_max_str_digits" not in await resp.text()
    for body in (
        b'{"username": 1e999, "password": "x"}',
        b'{"username": -1e999, "password": "x"}',
    ):
        resp = await client.post("/api/token/", data=body, headers=JSON)
        assert (await problem(resp, 400, "invalid"))["errors"]["username"]
    for body in (
        b'{"username": NaN, "password": "x"}',
        b'{"a": Infinity}',
        b"\xff\xfe{}",
        b'{"username": "\xff\xfe", "password": "x"}',  # was a 500: not UTF-8 inside a string
    ):
        resp = await client.post("/api/token/", data=body, headers=JSON)
        await problem(resp, 400, "parse_error")


async def test_every_failing_field_is_listed_and_null_is_not_a_value(client) -> None:
    resp = await client.post(
        "/api/auth/password/reset/confirm/",
        json={"uid": None, "new_password": 12345678, "re_new_password": "\x00"},
    )
    errors = (await problem(resp, 400, "invalid"))["errors"]
    assert errors == {
        "uid": ["This field may not be null."],
        "new_password": ["Not a valid string."],
        "re_new_password": ["Control characters are not allowed."],
    }


async def test_a_body_that_is_not_an_object_is_a_parse_error(client) -> None:
    for body in (b"[]", b'"x"', b"5", b"null"):
        resp = await client.post("/api/token/", data=body, headers=JSON)
        await problem(resp, 400, "parse_error")


async def test_login_needs_a_username_or_an_email(client) -> None:
    resp = await client.post("/api/token/", json={"password": "x"})
    errors = (await problem(resp, 400, "invalid"))["errors"]
    assert errors == {"username": ["This field is required."]}
    resp = await client.post("/api/token/", json={"password": 5})
    errors = (await problem(resp, 400, "invalid"))["errors"]
    assert errors == {"username": ["This field is required."], "password": ["Not a valid string."]}
    resp = await client.post("/api/token/", json={"email": "nobody@example.com", "password": "x"})
    await problem(resp, 401, "invalid_credentials")


async def test_unknown_fields_are_ignored_even_when_hostile(client) -> None:
    body = b'{"username": "nobody", "password": "x", "extra": "\\ud800", "n": 1e999}'
    resp = await client.post("/api/token/", data=body, headers=JSON)
    await problem(resp, 401, "invalid_credentials")


async def test_other_charsets_are_read_and_bad_ones_refused(client) -> None:
    body = json.dumps({"username": "nobödy", "password": "x"}).encode("utf-16")
    resp = await client.post(
        "/api/token/", data=body, headers={"Content-Type": "application/json; charset=utf-16"}
    )
    await problem(resp, 401, "invalid_credentials")
    resp = await client.post(
        "/api/token/", data=b"{}", headers={"Content-Type": "application/json; charset=nope"}
    )
    await problem(resp, 400, "parse_error")


async def test_patch_me_with_no_body_changes_nothing(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    before = await (await client.get("/api/me/", headers=alice.auth)).json()
    resp = await client.patch("/api/me/", headers=alice.auth)
    assert resp.status == 200 and await resp.json() == before
    resp = await client.patch("/api/me/", data=b"", headers={**alice.auth, **JSON})
    assert resp.status == 200 and await resp.json() == before


async def test_a_stranger_gets_401_before_any_body_rule(client) -> None:
    resp = await client.post("/api/me/password/", data=b"[[[", headers=JSON)
    await problem(resp, 401, "not_authenticated")


def sign(ctx: Any, claims: dict[str, Any]) -> str:
    """Sign as the service does, so a refusal is about the claims, never the signature."""
    keys = getattr(ctx, "keys", None)  # the key ring, where tokens have their own keys
    if keys is None:
        return jwt.encode(claims, ctx.secret, algorithm="HS256")
    key = keys.signer
    return jwt.encode(claims, key.signing, algorithm=key.algorithm, headers={"kid": key.kid})


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": 1e20},
        {"iat": 1e20},
        {"exp": -1e20},
        {"exp": 10**30},
        {"sub": str(10**30)},
        {"sub": "-1"},
        {"ver": 10**30},
        {"ver": -(10**30)},
        {"nbf": 1e20},
    ],
    ids=repr,
)
async def test_signed_tokens_with_claims_out_of_range_are_401(client, changes: dict) -> None:
    ctx = client.app[CONTEXT]
    now = int(time.time())
    claims = {
        "sub": "1",
        "iat": now,
        "exp": now + 60,
        "jti": "j",
        "iss": "acctkit",
        "aud": "acctkit",
        "ver": 0,
        **changes,
    }
    # The detail names the claim at fault (core.tokens), or PyJWT's own word for a bad nbf.
    reason = "nbf" if "nbf" in changes else f"{next(iter(changes))!r} is malformed"
    for typ in ("access", "refresh"):
        token = sign(ctx, {**claims, "typ": typ})
        resp = await client.post("/api/token/verify/", json={"token": token})
        assert reason in (await problem(resp, 401, "token_invalid"))["detail"]
    access = sign(ctx, {**claims, "typ": "access"})
    resp = await client.get("/api/me/", headers={"Authorization": f"Bearer {access}"})
    assert reason in (await problem(resp, 401, "token_invalid"))["detail"]
    refresh = sign(ctx, {**claims, "typ": "refresh"})
    resp = await client.post("/api/token/refresh/", json={"refresh": refresh})
    assert reason in (await problem(resp, 401, "token_invalid"))["detail"]


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n",
        b"GET /he alth z HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /api/token/ HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    ],
)
async def test_malformed_http_is_400_without_a_traceback_in_the_log(
    client, caplog: pytest.LogCaptureFixture, request_bytes: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(request_bytes)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.split()[1] == b"400", status_line
    assert all(r.exc_info is None for r in caplog.records), caplog.text
    assert "Traceback" not in caplog.text
    assert any("malformed request" in r.getMessage() for r in caplog.records), caplog.text


@pytest.mark.parametrize("path", ["/api/me/", "/api/me/sessions/"])
@pytest.mark.parametrize("token", [b"\xc3\xa9", b"\xe9", b"ey\xff.e30.x"])
async def test_a_token_that_is_not_ascii_is_401_not_500(client, path: str, token: bytes) -> None:
    """aiohttp hands header bytes that are not UTF-8 over as lone surrogates, which PyJWT cannot
    encode: `Authorization: Bearer \xe9` was a 500 on every authenticated route."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Authorization: Bearer " + token + b"\r\n\r\n"
    )
    await writer.drain()
    response = await reader.read()
    writer.close()
    assert response.split(b" ", 2)[1] == b"401", response[:200]
    assert b"token_invalid" in response


_MALFORMED_DETAIL = dict(
    zip(
        MALFORMED_KINDS,
        ("not valid HTTP", "URL", "not valid HTTP", "too long", "method"),
        strict=True,
    )
)


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
async def test_malformed_http_is_a_problem_document_that_quotes_nothing(client, kind: str) -> None:
    """aiohttp answered these itself, in plain text that quoted the refused bytes back."""
    request = malformed_request(kind, "/api/me/", "/api/token/")
    document = await malformed_request_answer(client.host, client.port, request)
    assert _MALFORMED_DETAIL[kind] in document["detail"], document
