"""Headers every response gets: personal data and tokens are never cached, nothing is
content-sniffed, and the Server header does not advertise the framework and its version."""

from __future__ import annotations

from aiohttp import web, web_response

SERVER_NAME = "acctkit"
# Public documents under /api/ that caches may keep: the OpenAPI document, and avatar images,
# which set their own Cache-Control (their problem documents do not, so they still get no-store).
_CACHEABLE = ("/api/openapi.json", "/api/openapi.json/")


async def protect(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """on_response_prepare: runs for every response the app sends, problem documents included."""
    response.headers["Server"] = SERVER_NAME
    response.headers["X-Content-Type-Options"] = "nosniff"
    if (
        request.path.startswith("/api/")
        and request.path not in _CACHEABLE
        and "Cache-Control" not in response.headers
    ):
        response.headers["Cache-Control"] = "no-store"


def hide_server_version() -> None:
    """aiohttp answers a request it cannot parse before any app sees it, with its own
    `Server: Python/x aiohttp/y`; the serving process names itself instead."""
    web_response.SERVER_SOFTWARE = SERVER_NAME  # type: ignore[attr-defined]
