"""POST /api/auth/signup/, /verify/ and /resend/."""

from __future__ import annotations

from aiohttp import web

from core import signup
from server.body import read_json, strings
from server.calls import call, call_hashing, mail_enqueued
from server.clientip import client_ip
from server.keys import SETTINGS
from server.render import json_response

SIGNUP_FIELDS = ("first_name", "last_name", "username", "email", "password")


async def start(request: web.Request) -> web.Response:
    fields = strings(await read_json(request), SIGNUP_FIELDS)
    started = await call_hashing(
        request,
        signup.start,
        signup.SignupRequest(**fields),
        ip=client_ip(request, request.app[SETTINGS]),
    )
    mail_enqueued(request)
    return json_response(started, status=202)


async def verify(request: web.Request) -> web.Response:
    fields = strings(await read_json(request), ("signup_id", "code"))
    verified = await call(request, signup.verify, fields["signup_id"], fields["code"])
    body = {
        "user": verified.user,
        "access": verified.tokens.access,
        "refresh": verified.tokens.refresh,
    }
    return json_response(body, status=201)


async def resend(request: web.Request) -> web.Response:
    fields = strings(await read_json(request), ("signup_id",))
    sent = await call(request, signup.resend, fields["signup_id"])
    mail_enqueued(request)
    return json_response(sent, status=202)
