"""SimpleJWT-compatible token routes: obtain, refresh, verify, revoke, and logout-all."""

from __future__ import annotations

from aiohttp import web

from core import errors, sessions
from server.auth import authenticated
from server.body import read_json, strings
from server.calls import call, call_hashing
from server.clientip import client_ip
from server.keys import SETTINGS
from server.render import json_response


async def obtain(request: web.Request) -> web.Response:
    """Log in with a username or email (in `username`, or in `email`) and a password."""
    data = await read_json(request)
    fields = strings(data, ("password",), ("username", "email"))
    identifier = fields.get("username") or fields.get("email")
    if not identifier:
        raise errors.InvalidInput(errors={"username": ["This field is required."]})
    pair = await call_hashing(
        request,
        sessions.login,
        identifier,
        fields["password"],
        ip=client_ip(request, request.app[SETTINGS]),
    )
    return json_response(pair)


async def refresh(request: web.Request) -> web.Response:
    fields = strings(await read_json(request), ("refresh",))
    return json_response(await call(request, sessions.refresh, fields["refresh"]))


async def verify(request: web.Request) -> web.Response:
    fields = strings(await read_json(request), ("token",))
    await call(request, sessions.verify, fields["token"])
    return json_response({})


async def revoke(request: web.Request) -> web.Response:
    fields = strings(await read_json(request), ("refresh",))
    await call(request, sessions.revoke, fields["refresh"])
    return web.Response(status=204)


async def logout_all(request: web.Request) -> web.Response:
    user = await authenticated(request)
    await call(request, sessions.logout_all, user.id)
    return web.Response(status=204)
