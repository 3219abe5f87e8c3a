"""Password reset (request, check, confirm) and password change, as JSON."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from core import reset
from server.auth import authenticated
from server.body import read_json, strings
from server.calls import call, call_hashing, mail_enqueued
from server.clientip import client_ip
from server.keys import SETTINGS
from server.render import json_response


async def request_link(request: web.Request) -> web.Response:
    started = time.monotonic()
    fields = strings(await read_json(request), ("email",))
    requested = await call(
        request, reset.request, fields["email"], ip=client_ip(request, request.app[SETTINGS])
    )
    # Woken whether or not a mail was queued: the handler must not know, let alone show, which.
    mail_enqueued(request)
    # Known and unknown addresses answer after the same time (see reset.REQUEST_FLOOR_SECONDS).
    await asyncio.sleep(max(0.0, reset.REQUEST_FLOOR_SECONDS - (time.monotonic() - started)))
    return json_response(requested, status=202)


async def check(request: web.Request) -> web.Response:
    return json_response(await call(request, reset.check, request.match_info["uid"]))


async def confirm(request: web.Request) -> web.Response:
    fields = strings(await read_json(request), ("uid", "new_password", "re_new_password"))
    await call_hashing(
        request, reset.confirm, fields["uid"], fields["new_password"], fields["re_new_password"]
    )
    mail_enqueued(request)
    return web.Response(status=204)


async def change_password(request: web.Request) -> web.Response:
    user = await authenticated(request)
    fields = strings(await read_json(request), ("current_password", "new_password"))
    pair = await call_hashing(
        request,
        reset.change_password,
        user.id,
        user.token_version,
        fields["current_password"],
        fields["new_password"],
    )
    mail_enqueued(request)
    return json_response(pair)
