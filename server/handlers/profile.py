"""PATCH and DELETE /api/me/, and the email change: POST /api/me/email/ and /verify/.

PATCH ignores fields it does not know (a client may send back the whole UserOut it got, with
`id`, `avatar_url` and so on); `email` and `password` are the exception, refused with a pointer
to their own routes when they would change something.
"""

from __future__ import annotations

from aiohttp import web

from core import email_change, profile
from server.auth import authenticated
from server.body import read_json, strings
from server.calls import call, call_hashing, mail_enqueued
from server.render import json_response

PATCH_FIELDS = ("first_name", "last_name", "username", "email", "password")


async def update_me(request: web.Request) -> web.Response:
    user = await authenticated(request)
    fields = strings(await read_json(request), (), PATCH_FIELDS)
    view = await call(request, profile.update, user.id, profile.ProfileChanges(**fields))
    return json_response(view)


async def delete_me(request: web.Request) -> web.Response:
    user = await authenticated(request)
    fields = strings(await read_json(request), ("password",))
    await call_hashing(request, profile.delete_account, user.id, fields["password"])
    return web.Response(status=204)


async def request_email_change(request: web.Request) -> web.Response:
    user = await authenticated(request)
    fields = strings(await read_json(request), ("email", "password"))
    sent = await call_hashing(
        request, email_change.request, user.id, fields["email"], fields["password"]
    )
    mail_enqueued(request)
    return json_response(sent, status=202)


async def verify_email_change(request: web.Request) -> web.Response:
    user = await authenticated(request)
    fields = strings(await read_json(request), ("code",))
    view = await call(request, email_change.verify, user.id, fields["code"])
    mail_enqueued(request)
    return json_response(view)
