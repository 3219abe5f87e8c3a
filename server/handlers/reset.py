"""Password reset (request, check, confirm) and password change, as JSON."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from contract import accounts
from core import reset, tokens
from server.auth import authenticated
from server.calls import call, call_hashing, mail_enqueued
from server.clientip import client_ip, login_client
from server.keys import SETTINGS


async def request_link(request: web.Request, body: accounts.ResetRequest) -> reset.ResetRequested:
    started = time.monotonic()
    requested = await call(
        request, reset.request, body.email, ip=client_ip(request, request.app[SETTINGS])
    )
    # Woken whether or not a mail was queued: the handler must not know, let alone show, which.
    mail_enqueued(request)
    # Known and unknown addresses answer after the same time (see reset.REQUEST_FLOOR_SECONDS).
    await asyncio.sleep(max(0.0, reset.REQUEST_FLOOR_SECONDS - (time.monotonic() - started)))
    return requested


async def check(request: web.Request) -> reset.ResetStatus:
    return await call(request, reset.check, request.match_info["uid"])


async def confirm(request: web.Request, body: accounts.ResetConfirm) -> None:
    await call_hashing(request, reset.confirm, body.uid, body.new_password, body.re_new_password)
    mail_enqueued(request)


async def change_password(request: web.Request, body: accounts.PasswordChange) -> tokens.TokenPair:
    user = await authenticated(request)
    pair = await call_hashing(
        request,
        reset.change_password,
        user.id,
        user.token_version,
        body.current_password,
        body.new_password,
        client=login_client(request, request.app[SETTINGS]),
    )
    mail_enqueued(request)
    return pair
