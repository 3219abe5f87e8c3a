"""X-Forwarded-For counts only when the peer is a configured proxy."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request

from core.settings import Settings
from server.clientip import client_ip
from tests.conftest import Inbox
from tests.server.support import PASSWORD, sign_up


def _request(peer: str, forwarded: str | None = None) -> web.Request:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 1234) if name == "peername" else default
    )
    return make_mocked_request("GET", "/", headers=headers, transport=transport)


def test_forwarded_for_is_ignored_from_untrusted_peers() -> None:
    request = _request("203.0.113.9", "1.2.3.4")
    assert request.remote == "203.0.113.9"
    assert client_ip(request, Settings()) == "203.0.113.9"
    assert client_ip(request, Settings(trusted_proxies=("10.0.0.0/8",))) == "203.0.113.9"


def test_forwarded_for_is_used_behind_a_trusted_proxy() -> None:
    settings = Settings(trusted_proxies=("10.0.0.0/8",))
    assert client_ip(_request("10.0.0.2", "198.51.100.7, 10.0.0.5"), settings) == "198.51.100.7"
    # A client that sends its own X-Forwarded-For cannot choose its address.
    assert client_ip(_request("10.0.0.2", "6.6.6.6, 198.51.100.7"), settings) == "198.51.100.7"


def test_a_hop_that_is_not_an_address_is_never_the_client() -> None:
    settings = Settings(trusted_proxies=("10.0.0.0/8",))
    for junk in ("unknown", "<script>", "1.2.3.4%eth0", "fe80::1%eth0", "x" * 300):
        assert client_ip(_request("10.0.0.2", f"198.51.100.7, {junk}"), settings) == "10.0.0.2"
        # Behind two proxies: the inner one forwarded the junk, so it stands for the client.
        forwarded = f"{junk}, 10.0.0.5"
        assert client_ip(_request("10.0.0.2", forwarded), settings) == "10.0.0.5"
    assert client_ip(_request("10.0.0.2", "2001:DB8::0:9"), settings) == "2001:db8::9"


# Each route that counts requests per client address, with a body it accepts.
_PER_ADDRESS = [
    ("/api/token/", {"username": "nobody", "password": "not the password"}),
    ("/api/auth/password/reset/", {"email": "nobody@example.com"}),
    (
        "/api/auth/signup/",
        {
            "first_name": "Mallory",
            "last_name": "M",
            "username": "mallory",
            "email": "mallory@example.com",
            "password": "rabbit-hole-2026",
        },
    ),
]


async def _post_raw(client: TestClient, path: str, body: object, forwarded: bytes) -> bytes:
    """POST with an X-Forwarded-For of raw bytes, which no HTTP client library sends."""
    data = json.dumps(body).encode()
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
        + b"Content-Type: application/json\r\nX-Forwarded-For: "
        + forwarded
        + f"\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    await writer.drain()
    response = await reader.read()
    writer.close()
    return response


@pytest.mark.parametrize(("path", "body"), _PER_ADDRESS)
@pytest.mark.parametrize("forwarded", [b"\xff\xfe", b"198.51.100.7\xc3", b"fe80::1%\xff"])
async def test_forwarded_bytes_that_are_not_utf8_are_not_a_500(
    database_url: str, make_client: Any, path: str, body: object, forwarded: bytes
) -> None:
    """aiohttp hands undecodable header bytes over as lone surrogates; taken as the client's
    address they reached the rate-limit table, which neither database can store: a 500 from
    every login, signup and reset request sent through a trusted proxy."""
    client = await make_client(database_url, trusted_proxies=("127.0.0.1/32",))
    response = await _post_raw(client, path, body, forwarded)
    status = int(response.split(b" ", 2)[1])
    assert status < 500, response[:400]


async def test_a_login_through_a_proxy_records_an_address_not_the_header_text(
    database_url: str, make_client: Any, inbox: Inbox
) -> None:
    client = await make_client(database_url, trusted_proxies=("127.0.0.1/32",))
    alice = await sign_up(client, inbox)
    resp = await client.post(
        "/api/token/",
        json={"username": alice.username, "password": PASSWORD},
        headers={"X-Forwarded-For": "<b>unknown</b>", "User-Agent": "junk-forwarder"},
    )
    assert resp.status == 200, await resp.text()
    resp = await client.get("/api/me/sessions/", headers=alice.auth)
    listed = {s["user_agent"]: s for s in await resp.json()}
    assert listed["junk-forwarder"]["ip"] == "127.0.0.1"
