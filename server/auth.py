"""Bearer authentication for the routes that need it."""

from __future__ import annotations

from aiohttp import web

from core import errors, sessions
from core.sessions import AuthenticatedUser
from server.calls import call


async def authenticated(request: web.Request) -> AuthenticatedUser:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise errors.NotAuthenticated()
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.TokenInvalid("Authorization header must be 'Bearer <access token>'.")
    return await call(request, sessions.authenticate, token.strip())
