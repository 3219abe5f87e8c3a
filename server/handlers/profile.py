"""PATCH and DELETE /api/me/, and the email change: POST /api/me/email/ and /verify/.

PATCH ignores fields it does not know (a client may send back the whole UserOut it got, with
`id`, `avatar_url` and so on); `email` and `password` are the exception, refused with a pointer
to their own routes when they would change something. An empty body changes nothing (djoser).
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from contract import accounts
from core import email_change, profile, signup, users
from server.auth import authenticated
from server.calls import call, call_hashing, mail_enqueued


async def update_me(request: web.Request, body: accounts.ProfilePatch) -> users.UserView:
    user = await authenticated(request)
    sent = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not msgspec.UNSET}
    return await call(request, profile.update, user.id, profile.ProfileChanges(**sent))


async def delete_me(request: web.Request, body: accounts.DeleteAccount) -> None:
    user = await authenticated(request)
    await call_hashing(request, profile.delete_account, user.id, body.password)


async def request_email_change(
    request: web.Request, body: accounts.EmailChangeRequest
) -> signup.CodeSent:
    user = await authenticated(request)
    sent = await call_hashing(request, email_change.request, user.id, body.email, body.password)
    mail_enqueued(request)
    return sent


async def verify_email_change(
    request: web.Request, body: accounts.EmailChangeVerify
) -> users.UserView:
    user = await authenticated(request)
    view = await call(request, email_change.verify, user.id, body.code)
    mail_enqueued(request)
    return view
