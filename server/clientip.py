"""The client's address, trusting X-Forwarded-For only from the configured proxies."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from core.sessions import Client
from core.settings import Settings


def _trusted(address: str, proxies: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(p, strict=False) for p in proxies)


def client_ip(request: web.Request, settings: Settings) -> str:
    peer = request.remote or ""
    if not settings.trusted_proxies or not _trusted(peer, settings.trusted_proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    # Walk from the nearest hop back; the first address that is not a trusted proxy is the client.
    for hop in reversed(hops):
        if not _trusted(hop, settings.trusted_proxies):
            return hop
    return peer


def login_client(request: web.Request, settings: Settings) -> Client:
    """What a new login records about where it came from (shown in GET /api/me/sessions/)."""
    return Client(ip=client_ip(request, settings), user_agent=request.headers.get("User-Agent", ""))
