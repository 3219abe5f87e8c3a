"""The signed-in user's own resource."""

from __future__ import annotations

from aiohttp import web

from core import sessions
from server.auth import authenticated
from server.calls import call
from server.render import json_response


async def get_me(request: web.Request) -> web.Response:
    user = await authenticated(request)
    return json_response(await call(request, sessions.me, user.id))
