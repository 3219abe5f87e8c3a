"""Bearer authentication for the routes that need it."""

from __future__ import annotations

from aiohttp import web

from core import errors, sessions
from core.authentication import AuthenticatedUser
from server.calls import call

# The route wrapper authenticates before reading the body; the handler's own call is then free.
USER = web.RequestKey("user", AuthenticatedUser)


def bearer_token(request: web.Request) -> str:
    """The access token of the Authorization header, or the contract's 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise errors.NotAuthenticated()
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.TokenInvalid("Authorization header must be 'Bearer <access token>'.")
    return token.strip()


async def authenticated(request: web.Request) -> AuthenticatedUser:
    if USER in request:
        return request[USER]
    request[USER] = await call(request, sessions.authenticate, bearer_token(request))
    return request[USER]
