"""Refusing requests a web page makes through DNS rebinding.

devmail on a loopback address holds every code and reset link sent in development, for any
process of this machine. A web page can reach it all the same: its host name's DNS answer turns
to 127.0.0.1 after the page has loaded, and the browser then treats devmail as that page's own
origin, so neither the same-origin policy nor the websocket's Origin check stops it reading.
What such a request cannot change is its Host header, which still names the page's host.

So on a loopback address devmail answers only Host names that can only mean this machine: IP
literals, `localhost` and `*.localhost` (RFC 6761), and names given with `--allowed-hosts` (an
/etc/hosts alias). Bound to another address (0.0.0.0 in a container network) it is meant to be
reached by other names, and answers every name, as before. Vite and webpack-dev-server guard
their dev servers the same way (`allowedHosts`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from devmail.problems import Problem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _names_this_machine(host: str, allowed: frozenset[str]) -> bool:
    try:
        name = urlsplit(f"//{host}").hostname
    except ValueError:
        return False
    if not name:
        return False
    if name == "localhost" or name.endswith(".localhost") or name in allowed:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True  # an address typed as such: no DNS answer to rebind


def host_guard(bound_to: str, allowed_hosts: tuple[str, ...]) -> list[Middleware]:
    """The middleware for a devmail bound to `bound_to`: none unless that is a loopback address."""
    if not _loopback(bound_to):
        return []
    allowed = frozenset(name.lower().rstrip(".") for name in allowed_hosts)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get(hdrs.HOST)
        # Browsers always send Host; a client that sends none is no web page.
        if host is not None and not _names_this_machine(host.rstrip("."), allowed):
            raise Problem(
                403,
                "host_not_allowed",
                "devmail on a loopback address answers localhost, *.localhost and IP addresses"
                " only (a page could otherwise read it through DNS rebinding); start it with"
                " --allowed-hosts NAME to answer another name",
            )
        return await handler(request)

    return [guard]
