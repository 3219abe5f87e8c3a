"""X-Forwarded-For counts only when the peer is a configured proxy."""

from __future__ import annotations

from unittest import mock

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from core.settings import Settings
from server.clientip import client_ip


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
