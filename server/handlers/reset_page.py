"""GET and POST /reset-password/{uid}: the page a person reaches from the reset mail.

A plain HTML form (no script) that posts to itself as application/x-www-form-urlencoded; every
outcome is a page, never a problem document. Templates live in server/templates and are filled
with string.Template after every value has been HTML-escaped.

Why this form needs no session to be safe from cross-site request forgery: CSRF works by making a
victim's browser send a request that rides on credentials the browser adds by itself (cookies).
This route reads no cookie and no session; the only authority a submission carries is the UID in
its URL, a 256-bit secret mailed to the account's owner. Whoever can make a browser post to the
right URL already knows the UID and could just as well post it from anywhere, so there is nothing
for a forged cross-site request to borrow. On top of that, and without server-side state:
- the form carries `csrf_token` = HMAC(secret key, purpose + UID): keyed to the UID, unforgeable
  without the key, checked in constant time, so only a submission of a form this service rendered
  for this very link is accepted (it keeps holding if the page ever gains ambient credentials);
- a request the browser marks `Sec-Fetch-Site: cross-site` is refused outright.
The Origin header is deliberately not checked: with `Referrer-Policy: no-referrer` (sent so the
UID never leaks to another site through Referer) browsers send `Origin: null` on the form's own
POST, so an Origin check would refuse the legitimate submission.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from html import escape
from importlib.resources import files
from string import Template
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from contract.fields import refused_character
from core import errors, reset
from core.policy import PASSWORD_MAX
from server.body import JSON_LIMIT, read_limited
from server.calls import call, call_hashing, context, mail_enqueued
from server.keys import SETTINGS
from server.render import iso

FORM_TYPE = "application/x-www-form-urlencoded"
_TEXT = {"type": "string"}
FORM_CONTENT = {
    FORM_TYPE: {
        "schema": {
            "type": "object",
            "properties": {"csrf_token": _TEXT, "new_password": _TEXT, "re_new_password": _TEXT},
            "required": ["csrf_token", "new_password", "re_new_password"],
        }
    }
}
"""The form as the OpenAPI document describes it."""
_CSRF_PURPOSE = b"acctkit.server.reset_page:"

_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)

# What each refusal of a link looks like to a person.
_LINK_PAGES: dict[type[errors.AccountError], tuple[str, str]] = {
    errors.ResetExpired: (
        "This link has expired",
        "Reset links work for a few minutes only. Ask for a new one from the sign-in screen.",
    ),
    errors.ResetUsed: (
        "This link was already used",
        "Your password was changed with this link. Sign in with your new password, or ask for "
        "a new link if that was not you.",
    ),
    errors.ResetInvalid: (
        "This link is not valid",
        "Check that you opened the whole link from the latest mail, or ask for a new one.",
    ),
}


class Html(str):
    """A fragment that is already HTML; everything else is escaped when a template is filled."""


@functools.cache
def _template(name: str) -> Template:
    return Template(files("server").joinpath(f"templates/{name}").read_text(encoding="utf-8"))


@functools.cache
def headers() -> dict[str, str]:
    """Security headers of every page. The CSP admits the page's own style sheet by its hash
    rather than every inline style ('unsafe-inline' would let injected markup restyle the form,
    e.g. hide or overlay it), and no script at all: the page needs none."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"
        for css in _STYLE.findall(_template("page.html").template)
    )
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src {hashes}; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
    }


def _fill(name: str, **values: str) -> Html:
    safe = {k: v if isinstance(v, Html) else escape(v, quote=True) for k, v in values.items()}
    return Html(_template(name).substitute(safe))


def _page(title: str, content: Html, status: int) -> web.Response:
    body = _fill("page.html", title=title, content=content)
    return web.Response(
        status=status, text=body, content_type="text/html", charset="utf-8", headers=headers()
    )


def _message(status: int, heading: str, message: str, next_step: str = "") -> web.Response:
    role = "status" if status < 400 else "alert"
    content = _fill(
        "reset_message.html", heading=heading, message=message, next_step=next_step, role=role
    )
    return _page(heading, content, status)


def _refused(exc: errors.AccountError) -> web.Response:
    heading, next_step = _LINK_PAGES.get(type(exc), (exc.title, ""))
    return _message(exc.status, heading, exc.detail, next_step)


def csrf_token(request: web.Request, uid: str) -> str:
    return hmac.new(
        context(request).secret, _CSRF_PURPOSE + uid.encode(), hashlib.sha256
    ).hexdigest()


def _action(request: web.Request, uid: str) -> str:
    """Post back to the same page, under the public URL's path (a deployment may sit under one)."""
    prefix = urlsplit(request.app[SETTINGS].public_url).path.rstrip("/")
    return f"{prefix}/reset-password/{uid}"


def _errors_list(field: str, reasons: list[str]) -> Html:
    if not reasons:
        return Html("")
    items = "".join(f"<li>{escape(r)}</li>" for r in reasons)
    return Html(f'<ul id="{field}_errors" class="errors">{items}</ul>')


def _form(
    request: web.Request,
    uid: str,
    status: reset.ResetStatus,
    field_errors: dict[str, list[str]] | None = None,
    code: int = 200,
) -> web.Response:
    field_errors = field_errors or {}
    new_errors = field_errors.get("new_password", [])
    re_errors = field_errors.get("re_new_password", [])
    summary = Html("")
    if new_errors or re_errors:
        summary = Html(
            '<p class="summary" role="alert">The password was not changed. '
            "Fix the problems below and try again.</p>"
        )
    content = _fill(
        "reset_form.html",
        summary=summary,
        action=_action(request, uid),
        csrf_token=csrf_token(request, uid),
        min_length=str(request.app[SETTINGS].password_min_length),
        max_length=str(PASSWORD_MAX),
        expires_at=iso(status.expires_at),
        new_password_described=Html(" new_password_errors" if new_errors else ""),
        new_password_invalid=Html(' aria-invalid="true"' if new_errors else ""),
        new_password_errors=_errors_list("new_password", new_errors),
        re_new_password_described=Html(
            ' aria-describedby="re_new_password_errors"' if re_errors else ""
        ),
        re_new_password_invalid=Html(' aria-invalid="true"' if re_errors else ""),
        re_new_password_errors=_errors_list("re_new_password", re_errors),
    )
    return _page("Choose a new password", content, code)


async def show(request: web.Request) -> web.Response:
    uid = request.match_info["uid"]
    try:
        status = await call(request, reset.check, uid)
    except errors.AccountError as exc:
        return _refused(exc)
    return _form(request, uid, status)


async def _read_form(request: web.Request) -> dict[str, str]:
    if request.content_type != FORM_TYPE:
        raise errors.UnsupportedMediaType(f"Send the form as {FORM_TYPE}.")
    raw = await read_limited(request, JSON_LIMIT)
    try:
        parsed = parse_qs(
            raw.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=10
        )
    except (UnicodeDecodeError, ValueError):
        raise errors.InvalidInput("The form could not be read.") from None
    return {name: values[0] for name, values in parsed.items()}


async def submit(request: web.Request) -> web.Response:
    uid = request.match_info["uid"]
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return _message(403, "Not accepted", "This form was sent from another site.")
    try:
        form = await _read_form(request)
    except errors.AccountError as exc:
        return _message(exc.status, exc.title, exc.detail)
    sent = form.get("csrf_token", "").encode()
    if not hmac.compare_digest(sent, csrf_token(request, uid).encode()):
        return _message(
            403,
            "This form could not be checked",
            "The page was not sent by this service for this link.",
            "Open the link from your mail again.",
        )
    try:
        refused = {
            name: [why]
            for name in ("new_password", "re_new_password")
            if (why := refused_character(form.get(name, "")))
        }
        if refused:  # the same character rule as the JSON routes
            raise errors.InvalidInput(errors=refused)
        await call_hashing(
            request,
            reset.confirm,
            uid,
            form.get("new_password", ""),
            form.get("re_new_password", ""),
        )
    except (errors.PasswordMismatch, errors.InvalidInput) as exc:
        try:
            status = await call(request, reset.check, uid)
        except errors.AccountError as gone:
            return _refused(gone)
        return _form(request, uid, status, exc.errors, code=400)
    except errors.AccountError as exc:
        return _refused(exc)
    mail_enqueued(request)
    return _message(
        200,
        "Your password was changed",
        "You can now sign in with your new password. Every device that was signed in has been "
        "signed out.",
    )
