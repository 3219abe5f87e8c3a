"""The signed-in user's own resource."""

from __future__ import annotations

from aiohttp import web

from core import authentication, users
from server.auth import bearer_token
from server.calls import read_batched
from server.keys import ME_READS


async def get_me(request: web.Request) -> users.UserView:
    """The hottest route: the token check and the user view in one statement, on SQLite right
    on the loop, on PostgreSQL batched with the other /me requests in flight (its Route has
    `auth_in_handler`, so the route wrapper does not authenticate first)."""
    token = bearer_token(request)
    return await read_batched(request, request.app[ME_READS], authentication.me_by_token, token)
