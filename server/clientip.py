"""The client's address, trusting X-Forwarded-For only from the configured proxies.

What this returns keys the per-address rate limits and is stored with each login, so it is always
an address as the `ipaddress` module writes it, never the header's text: a hop that is not an
address (garbage, or bytes that are not UTF-8, which aiohttp hands over as lone surrogates the
database cannot store) names no client, and the proxy that passed it on stands in for it.
"""

from __future__ import annotations

import functools
import ipaddress

from aiohttp import web

from core.sessions import Client
from core.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _address(text: str) -> Address | None:
    """`text` as an address, or None. A zone (`fe80::1%eth0`) names an interface of the host
    that wrote it, nothing a client has, and may hold any text at all: not an address here."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return None
    return address


def _trusted(address: Address, proxies: tuple[str, ...]) -> bool:
    return any(address in network for network in _networks(proxies))


def client_ip(request: web.Request, settings: Settings) -> str:
    peer = request.remote or ""
    nearest = _address(peer.partition("%")[0])  # the socket's own zone is no one's text
    if (
        not settings.trusted_proxies
        or nearest is None
        or not _trusted(nearest, settings.trusted_proxies)
    ):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    # Walk from the nearest hop back; the first address that is not a trusted proxy is the client.
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return str(nearest)  # the trusted proxy that forwarded it
        if not _trusted(address, settings.trusted_proxies):
            return str(address)
        nearest = address
    return peer


def login_client(request: web.Request, settings: Settings) -> Client:
    """What a new login records about where it came from (shown in GET /api/me/sessions/)."""
    return Client(ip=client_ip(request, settings), user_agent=request.headers.get("User-Agent", ""))
