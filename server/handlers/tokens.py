"""SimpleJWT-compatible token routes: obtain, refresh, verify, revoke, and logout-all."""

from __future__ import annotations

from aiohttp import web

from contract import accounts
from core import sessions, tokens
from server.auth import authenticated
from server.calls import call, call_hashing
from server.clientip import login_client
from server.keys import SETTINGS


async def obtain(request: web.Request, body: accounts.LoginRequest) -> tokens.TokenPair:
    """Log in with a username or email (in `username`, or in `email`) and a password."""
    return await call_hashing(
        request,
        sessions.login,
        body.identifier,
        body.password,
        client=login_client(request, request.app[SETTINGS]),
    )


async def refresh(request: web.Request, body: accounts.RefreshRequest) -> tokens.TokenPair:
    return await call(request, sessions.refresh, body.refresh)


async def verify(request: web.Request, body: accounts.TokenVerifyRequest) -> accounts.Empty:
    await call(request, sessions.verify, body.token)
    return accounts.Empty()


async def revoke(request: web.Request, body: accounts.RefreshRequest) -> None:
    await call(request, sessions.revoke, body.refresh)


async def logout_all(request: web.Request) -> None:
    user = await authenticated(request)
    await call(request, sessions.logout_all, user.id)
