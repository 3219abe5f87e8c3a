"""GET /api/me/sessions/ and DELETE /api/me/sessions/{id}/: the signed-in user's logins, and
ending one of them (its refresh and access tokens die at once, on every instance)."""

from __future__ import annotations

from aiohttp import web

from core import sessions
from server.auth import authenticated
from server.calls import call


async def list_sessions(request: web.Request) -> list[sessions.LoginView]:
    user = await authenticated(request)
    return await call(request, sessions.list_logins, user.id, user.login_id)


async def end_session(request: web.Request) -> None:
    user = await authenticated(request)
    await call(request, sessions.end_login, user.id, request.match_info["id"])
