"""CORS for browser apps on the origins in ACCTKIT_CORS_ORIGINS, and no others.

Credentials stay off: the API takes bearer tokens, never cookies, so a listed origin can call it
with `Authorization` and nothing a browser attaches on its own is ever honoured."""

from __future__ import annotations

from aiohttp import web

from server.keys import SETTINGS
from server.problems import Handler

ALLOW_HEADERS = "Authorization, Content-Type, X-Request-ID"
EXPOSE_HEADERS = "X-Request-ID, Retry-After, WWW-Authenticate, ETag"
PREFLIGHT_MAX_AGE = 600
_DEFAULT_METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")


def _listed_origin(request: web.BaseRequest) -> str | None:
    origin = request.headers.get("Origin")
    origins = request.app[SETTINGS].cors_origins if isinstance(request, web.Request) else ()
    return origin if origin is not None and origin in origins else None


@web.middleware
async def preflight_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer a listed origin's preflight on any route; the router itself has no OPTIONS."""
    if (
        request.method != "OPTIONS"
        or "Access-Control-Request-Method" not in request.headers
        or _listed_origin(request) is None
    ):
        return await handler(request)
    unmatched = request.match_info.http_exception
    if isinstance(unmatched, web.HTTPNotFound):
        return await handler(request)
    methods = (
        unmatched.allowed_methods
        if isinstance(unmatched, web.HTTPMethodNotAllowed)
        else _DEFAULT_METHODS
    )
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": ", ".join(sorted(set(methods) - {"HEAD"})),
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
        },
    )


async def add_cors_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """on_response_prepare: every response to a listed origin, errors included, may be read."""
    if not isinstance(request, web.Request) or not request.app[SETTINGS].cors_origins:
        return
    vary = [v.strip() for v in response.headers.get("Vary", "").split(",") if v.strip()]
    if "Origin" not in vary:
        response.headers["Vary"] = ", ".join([*vary, "Origin"])
    origin = _listed_origin(request)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
