"""No input gets a 5xx from devmail's API: every JSON route and every query parameter is
answered 400 (with a problem document) for hostile input, and nothing is changed by it."""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import pytest

from tests.wire import MALFORMED_KINDS, malformed_request, malformed_request_answer

from .conftest import Devmail, code_mail

JSON_ROUTES = [
    ("DELETE", "/api/v1/messages"),
    ("PUT", "/api/v1/messages"),
    ("PUT", "/api/v1/tags"),
    ("PUT", "/api/v1/tags/important"),
    ("PUT", "/api/v1/chaos"),
    ("POST", "/api/v1/send"),
]

HOSTILE_BODIES = {
    "deep arrays": b"[" * 30_000 + b"]" * 30_000,
    "deep objects in a field": b'{"IDs": ' + b'{"a":' * 30_000 + b"1" + b"}" * 30_000 + b"}",
    "deep arrays in a field": b'{"IDs": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    "lone surrogate": b'{"IDs": ["\\ud800"], "Tags": ["\\udfff"], "Name": "\\ud800"}',
    "lone surrogate key": b'{"\\ud800": 1}',
    "NUL": b'{"IDs": ["a\\u0000b"], "Tags": ["x\\u0000"], "Name": "a\\u0000"}',
    "numbers for strings": b'{"IDs": [1, 2], "Tags": [3], "Name": 4, "From": 5}',
    "huge number": b'{"IDs": 1e999999, "Read": 123456789012345678901234567890, "Seed": 1e400}',
    "huge integer": b'{"Seed": 123456789012345678901234567890123, "Name": -1}',
    "wrong top level": b'"just a string"',
    "array top level": b"[1, 2, 3]",
    "truncated": b'{"IDs": ["abc"',
    "not utf-8": b'{"IDs": ["\xff\xfe"]}',
    "unknown field": b'{"Nonsense": true}',
    "null bytes raw": b"\x00\x00\x00",
}


@pytest.mark.parametrize("route", JSON_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
async def test_hostile_body_is_a_400_problem(
    devmail: Devmail, route: tuple[str, str], name: str
) -> None:
    await devmail.send(code_mail())
    method, path = route
    response = await devmail.client.request(
        method, path, data=HOSTILE_BODIES[name], headers={"Content-Type": "application/json"}
    )
    assert response.status == 400, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["status"] == 400 and problem["code"] == "malformed_body"
    listing = await devmail.json("/api/v1/messages")
    assert listing["total"] == 1 and listing["unread"] == 1 and listing["tags"] == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/messages", {"start": "-1"}),
        ("/api/v1/messages", {"start": "99999999999999999999999"}),
        ("/api/v1/messages", {"limit": "1e3"}),
        ("/api/v1/messages", {"limit": "\u0663"}),  # an Arabic-Indic digit: int() takes it
        ("/api/v1/messages", {"limit": " 5"}),
        ("/api/v1/messages", {"limit": "1_000"}),
        ("/api/v1/messages", {"start": "9" * 5000}),
        ("/api/v1/search", {"query": "a\x00b"}),
        ("/api/v1/search", {"query": "x" * 5000}),
        ("/api/v1/search", {"query": "to:a", "start": "abc"}),
        ("/api/v1/message/latest", {"wait": "-0.5"}),
        ("/api/v1/message/latest", {"wait": "1e999"}),
        ("/api/v1/message/latest", {"wait": "9" * 100}),
        ("/api/v1/message/latest", {"query": "is:bogus"}),
        ("/api/v1/message/latest", {"after": "x\x01"}),
    ],
)
async def test_bad_query_parameters_are_400(
    devmail: Devmail, path: str, params: dict[str, str]
) -> None:
    response = await devmail.client.get(path, params=params)
    assert response.status == 400, await response.text()
    assert response.content_type == "application/problem+json"


async def test_invalid_utf8_in_a_query_string_is_no_5xx(devmail: Devmail) -> None:
    # %ED%A0%80 would be U+D800, which no valid UTF-8 holds: aiohttp reads it as U+FFFD.
    await devmail.send(code_mail())
    response = await devmail.client.get("/api/v1/search?query=%ED%A0%80")
    assert response.status == 200
    assert (await response.json())["messages_count"] == 0
    response = await devmail.client.get("/api/v1/messages?start=%ED%A0%80")
    assert response.status == 400


async def test_largest_allowed_paging_values_work(devmail: Devmail) -> None:
    await devmail.send(code_mail())
    page = await devmail.json("/api/v1/messages", start=str(2**31 - 1), limit=str(2**31 - 1))
    assert (page["count"], page["total"]) == (0, 1)


FIELD_NAMES = ["IDs", "ids", "Read", "Search", "Tags", "Name", "From", "To", "Cc", "Bcc",
               "Subject", "Text", "HTML", "Headers", "Attachments", "Email", "Content",
               "Filename", "Sender", "Recipient", "Data", "Disconnect", "Latency", "Stage",
               "ErrorCode", "Probability", "Milliseconds", "Seed", "x"]  # fmt: skip
STRINGS = ["", "a", "\ud800", "\x00", "\x1b[31m", "x" * 2000, "Data", "451", "tag one",
           "a@example.com", "=?utf-8?q?x?=", "\r\nBcc: evil@example.com", "../..",
           "\U0001f642"]  # fmt: skip
NUMBERS = [0, -1, 1, 100, 101, 451, 2**63, -(2**70), 1e308, 0.5]


VALID_BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/messages": {"IDs": ["x"], "Read": True},
    "/api/v1/tags": {"IDs": ["x"], "Tags": ["one", "two"]},
    "/api/v1/tags/important": {"Name": "renamed"},
    "/api/v1/chaos": {
        "Sender": {"ErrorCode": 451, "Probability": 0},
        "Latency": {"Stage": "Data", "Milliseconds": 0, "Probability": 100},
        "Seed": 3,
    },
    "/api/v1/send": {
        "From": {"Email": "a@example.com", "Name": "A"},
        "To": [{"Email": "b@example.com"}],
        "Subject": "s",
        "Text": "t",
        "HTML": "<p>h</p>",
        "Headers": {"X-Test": "1"},
        "Attachments": [{"Content": "aGk=", "Filename": "hi.txt"}],
    },
}


def mutated(rng: random.Random, valid: dict[str, Any]) -> dict[str, Any]:
    """A valid body with one field, top level or one below, made hostile (or left alone)."""
    body = json.loads(json.dumps(valid))
    key = rng.choice(list(body))
    if isinstance(body[key], dict) and rng.random() < 0.5:
        body[key][rng.choice([*body[key], "x"])] = hostile_value(rng, 3)
    elif isinstance(body[key], list) and body[key] and rng.random() < 0.5:
        body[key][0] = hostile_value(rng, 3)
    elif rng.random() < 0.9:
        body[key] = hostile_value(rng, 2)
    return body


def hostile_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 4 else 4)
    if kind == 0:
        return rng.choice(STRINGS)
    if kind == 1:
        return rng.choice(NUMBERS)
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.choice(STRINGS) + rng.choice(STRINGS)
    if kind in (4, 5):
        keys = rng.sample(FIELD_NAMES, rng.randrange(1, 5))
        return {key: hostile_value(rng, depth + 1) for key in keys}
    return [hostile_value(rng, depth + 1) for _ in range(rng.randrange(4))]


@pytest.mark.parametrize("route", JSON_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
async def test_generated_hostile_bodies_never_get_a_5xx(
    devmail: Devmail, route: tuple[str, str]
) -> None:
    """A fixed-seed generator (so a failure replays) of bodies near the real shapes."""
    await devmail.send(code_mail())
    rng = random.Random(f"{route}")
    method, path = route
    statuses = set()
    valid = VALID_BODIES[path]
    for _ in range(150):
        value = mutated(rng, valid) if rng.random() < 0.6 else hostile_value(rng)
        body = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
        response = await devmail.client.request(
            method, path, data=body, headers={"Content-Type": "application/json"}
        )
        statuses.add(response.status)
        assert response.status < 500, (body[:200], await response.text())
        if response.status >= 400:
            assert response.content_type == "application/problem+json"
    assert 400 in statuses, statuses


async def test_generated_query_parameters_never_get_a_5xx(devmail: Devmail) -> None:
    await devmail.send(code_mail())
    rng = random.Random(1)
    paths = ["/api/v1/messages", "/api/v1/search", "/api/v1/message/latest",
             "/api/v1/message/latest/raw", "/api/v1/message/latest/headers",
             "/view/latest.html", "/view/latest.txt", "/api/v1/message/latest/part/1"]  # fmt: skip
    for _ in range(200):
        params = {
            name: rng.choice([*STRINGS[:4], *STRINGS[5:], "1", "-5", "1e9", "tag:x", "is:read"])
            for name in rng.sample(["start", "limit", "query", "wait", "after"], 3)
        }
        if params.get("wait", "").strip():
            params["wait"] = "0"  # hold nothing: speed, not hostility, is the concern here
        response = await devmail.client.get(rng.choice(paths), params=params)
        assert response.status < 500, (params, await response.text())


_MALFORMED_ABOUT = dict(
    zip(MALFORMED_KINDS, ("framing", "URL", "framing", "too long", "method"), strict=True)
)


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
async def test_malformed_http_is_a_problem_document_and_one_quiet_log_line(
    devmail: Devmail, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """aiohttp answered these in plain text quoting the refused bytes, and logged a traceback
    quoting them again."""
    await devmail.send(code_mail())
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    client = devmail.client
    request = malformed_request(kind, "/api/v1/info", "/api/v1/messages")
    document = await malformed_request_answer(client.host, client.port, request)
    assert _MALFORMED_ABOUT[kind] in document["detail"], document
    assert caplog.records, "the refusal is logged"
    for record in caplog.records:
        assert record.exc_info is None and "SECRET" not in record.getMessage()
    assert (await devmail.client.get("/api/v1/messages")).status == 200
