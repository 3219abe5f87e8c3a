"""How a route is declared, and how a declaration becomes aiohttp routes.

One `Route` says everything a client may rely on: method, path, whether it needs a bearer token,
the request body's Struct, the success status and the response's Struct, and the AccountError
classes it can raise. The route table (server/routes.py) is a list of these; the OpenAPI document
(server/openapi.py) is built from the same list, and neither module imports the other.

A handler is `async def h(request)` or, with `body=`, `async def h(request, body)`, where `body`
is already the decoded Struct. It returns either a core result (converted once to the `ok`
Struct and encoded with the `ok` status; None gives an empty answer) or a finished aiohttp
response (for headers of its own, images, pages).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from core import errors
from server.auth import authenticated
from server.body import read_body
from server.render import as_contract, json_response

Handler = Callable[..., Awaitable[Any]]
_VARIABLE = re.compile(r"\{(\w+):[^{}]*\}")
ErrorClass = type[errors.AccountError]

# What reading a JSON body and checking a bearer token can answer, on every route that does.
BODY_ERRORS: tuple[ErrorClass, ...] = (
    errors.InvalidInput,
    errors.ParseError,
    errors.TooLarge,
    errors.UnsupportedMediaType,
)
AUTH_ERRORS: tuple[ErrorClass, ...] = (errors.NotAuthenticated, errors.TokenInvalid)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    auth: bool = False
    # The handler checks the token itself, in the same database call as its own read (GET
    # /api/me/: one executor hop instead of two). Still documented and answered as `auth`.
    auth_in_handler: bool = False
    body: type[msgspec.Struct] | None = None
    ok: tuple[int, Any] = (200, None)  # a Struct, list[Struct], or None
    errors: tuple[ErrorClass, ...] = ()
    body_optional: bool = False  # an empty body is valid (PATCH /api/me/ changes nothing)
    raw_body: dict[str, Any] | None = None  # non-JSON request content (avatars, forms), as OpenAPI
    produces: str = "application/json"
    pages: dict[int, str] = field(default_factory=dict)  # text/html routes: status -> page
    database: bool = True  # reads or writes the database, so may answer 503 database_unavailable

    @property
    def template(self) -> str:
        """The path as documented: `{uid:regex}` (aiohttp's syntax) becomes `{uid}`."""
        return _VARIABLE.sub(r"{\1}", self.path)

    def problems(self) -> dict[int, list[str]]:
        """Every problem code this route can answer, by status, from the error classes."""
        classes = list(self.errors)
        if self.auth:
            classes += AUTH_ERRORS
        if self.body is not None:
            classes += BODY_ERRORS
        if self.database:
            classes.append(errors.DatabaseUnavailable)
        by_status: dict[int, list[str]] = {}
        for cls in classes:
            codes = by_status.setdefault(cls.status, [])
            if cls.code not in codes:
                codes.append(cls.code)
        return dict(sorted(by_status.items()))


def struct_of(kind: Any) -> type[msgspec.Struct] | None:
    """The Struct a body or answer is made of: `kind` itself, or X of `list[X]`."""
    if kind is None:
        return None
    args = typing.get_args(kind)
    return args[0] if typing.get_origin(kind) is list and args else kind


def both_slash_forms(path: str) -> list[str]:
    other = path[:-1] if path.endswith("/") else path + "/"
    return [path, other]


def endpoint(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler for `route`: authenticate first (a stranger learns nothing about the
    body rules), then decode the body, call the handler and encode what it returns."""
    status, kind = route.ok

    async def handle(request: web.Request) -> web.StreamResponse:
        if route.auth and not route.auth_in_handler:
            await authenticated(request)
        if route.body is None:
            result = await route.handler(request)
        else:
            result = await route.handler(request, await read_body(request, route.body))
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=status)
        return json_response(as_contract(result, kind) if kind else result, status)

    return handle


def register(app: web.Application, routes: list[Route]) -> None:
    """Every route in both slash forms (the contract forbids redirects)."""
    for route in routes:
        handler = endpoint(route)
        for path in both_slash_forms(route.path):
            if route.method == "GET":
                app.router.add_get(path, handler)
            else:
                app.router.add_route(route.method, path, handler)
