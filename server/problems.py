"""The one place errors become responses: RFC 9457 problem documents for every AccountError and
every aiohttp HTTP error; anything else is logged with the request id and answered with a bare 500.
Also stamps each response with X-Request-ID."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web

from core import errors
from server.render import dumps

log = logging.getLogger("acctkit.server")

REQUEST_ID = web.RequestKey("request_id", str)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    field_errors: dict[str, list[str]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field_errors:
        body["errors"] = field_errors
    body.update(extra or {})
    return web.Response(
        status=status,
        text=dumps(body),
        content_type="application/problem+json",
        headers=headers,
    )


def from_account_error(exc: errors.AccountError) -> web.Response:
    headers = {}
    if exc.status == 401 and exc.code == "not_authenticated":
        headers["WWW-Authenticate"] = 'Bearer realm="acctkit"'
    elif exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="acctkit", error="invalid_token"'
    retry_after = exc.extra.get("retry_after")
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    return problem(
        exc.status,
        exc.code,
        exc.title,
        exc.detail,
        field_errors=exc.errors,
        extra=exc.extra,
        headers=headers,
    )


def from_http_error(exc: web.HTTPException) -> web.Response:
    status = exc.status
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    headers = {}
    if status == 405 and isinstance(exc, web.HTTPMethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
    detail = exc.text if exc.text and not exc.text.startswith(f"{status}:") else phrase
    return problem(
        status, _HTTP_CODES.get(status, f"http_{status}"), phrase, detail, headers=headers
    )


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-ID", "")
    request[REQUEST_ID] = given if _SAFE_ID.match(given) else uuid.uuid4().hex
    response = await handler(request)
    response.headers["X-Request-ID"] = request[REQUEST_ID]
    return response


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.AccountError as exc:
        return from_account_error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return from_http_error(exc)
    except Exception:
        log.exception(
            "unhandled error in %s %s [request %s]",
            request.method,
            request.path,
            request.get(REQUEST_ID, "-"),
        )
        return problem(
            500,
            "server_error",
            "Internal Server Error",
            f"An unexpected error happened. Quote request id "
            f"{request.get(REQUEST_ID, '-')} when reporting it.",
        )
