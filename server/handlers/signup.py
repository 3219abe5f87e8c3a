"""POST /api/auth/signup/, /verify/ and /resend/."""

from __future__ import annotations

from aiohttp import web

from contract import accounts
from core import signup
from server.calls import call, call_hashing, mail_enqueued
from server.clientip import client_ip, login_client
from server.keys import SETTINGS
from server.render import as_contract


async def start(request: web.Request, body: accounts.SignupRequest) -> signup.SignupStarted:
    started = await call_hashing(
        request,
        signup.start,
        signup.SignupRequest(
            first_name=body.first_name,
            last_name=body.last_name,
            username=body.username,
            email=body.email,
            password=body.password,
        ),
        ip=client_ip(request, request.app[SETTINGS]),
    )
    mail_enqueued(request)
    return started


async def verify(request: web.Request, body: accounts.SignupVerify) -> accounts.SignupVerified:
    verified = await call(
        request,
        signup.verify,
        body.signup_id,
        body.code,
        client=login_client(request, request.app[SETTINGS]),
    )
    return accounts.SignupVerified(
        user=as_contract(verified.user, accounts.UserOut),
        access=verified.tokens.access,
        refresh=verified.tokens.refresh,
    )


async def resend(request: web.Request, body: accounts.SignupResend) -> signup.CodeSent:
    sent = await call(request, signup.resend, body.signup_id)
    mail_enqueued(request)
    return sent
