"""The signed-in user's own resource."""

from __future__ import annotations

from aiohttp import web

from core import sessions, users
from server.auth import bearer_token
from server.calls import read


async def get_me(request: web.Request) -> users.UserView:
    """The hottest route: the token check and the user view in one statement, on SQLite right
    on the loop, on PostgreSQL in one executor hop (its Route has `auth_in_handler`, so the route
    wrapper does not authenticate first)."""
    return await read(request, sessions.me_by_token, bearer_token(request))
