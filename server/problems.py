"""The one place errors become responses: RFC 9457 problem documents for every AccountError and
every aiohttp HTTP error; anything else is logged with the request id and answered with a bare 500.
Also stamps each response with X-Request-ID.

Requests that are not valid HTTP never reach a middleware: aiohttp answers them itself, in plain
text that quotes the refused bytes (a header or a path that may carry a token), and offers no
hook for it (aio-libs/aiohttp#3287). `install()` gives its `handle_error` the same problem
document as everything else, with a detail that names the kind of fault and quotes nothing.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import http_exceptions, web, web_protocol

from core import errors, request_id
from server.accesslog import loggable_path
from server.render import dumps

log = logging.getLogger("acctkit.server")

REQUEST_ID = web.RequestKey("request_id", str)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
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


def _phrase(status: int) -> str:
    return HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"


def from_http_error(exc: web.HTTPException) -> web.Response:
    status = exc.status
    phrase = _phrase(status)
    headers = {}
    if status == 405 and isinstance(exc, web.HTTPMethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
    detail = exc.text if exc.text and not exc.text.startswith(f"{status}:") else phrase
    return problem(
        status, _HTTP_CODES.get(status, f"http_{status}"), phrase, detail, headers=headers
    )


# Most specific first: BadHttpMethod is a BadStatusLine, every one a BadHttpMessage.
_MALFORMED: tuple[tuple[type[Exception], str], ...] = (
    (http_exceptions.BadHttpMethod, "The request method is not valid HTTP."),
    (http_exceptions.BadStatusLine, "The request line is not valid HTTP."),
    (http_exceptions.InvalidURLError, "The request's URL is not valid."),
    (http_exceptions.LineTooLong, "A line of the request is too long."),
    (http_exceptions.InvalidHeader, "A header of the request is not valid HTTP."),
    (http_exceptions.PayloadEncodingError, "The request's body is not framed as HTTP requires."),
)
_NOT_HTTP = "The request is not valid HTTP."
_aiohttp_handle_error = web_protocol.RequestHandler.handle_error


def _handle_error(
    self: web_protocol.RequestHandler,
    request: web.BaseRequest,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    """aiohttp's own error answer (its logging and checks kept), as a problem document when the
    request was not valid HTTP."""
    response = _aiohttp_handle_error(self, request, status, exc, message)
    if not isinstance(exc, http_exceptions.HttpProcessingError) or not 400 <= status < 500:
        return response
    detail = next((d for kind, d in _MALFORMED if isinstance(exc, kind)), _NOT_HTTP)
    answer = problem(status, "malformed_request", _phrase(status), detail)
    answer.force_close()
    return answer


def install() -> None:
    """Answer requests that are not valid HTTP with a problem document (idempotent)."""
    web_protocol.RequestHandler.handle_error = _handle_error  # type: ignore[method-assign]


_request_ids = itertools.count()
_id_prefix = secrets.token_hex(8)


def _new_prefix() -> None:
    global _id_prefix
    _id_prefix = secrets.token_hex(8)


os.register_at_fork(after_in_child=_new_prefix)


def new_request_id() -> str:
    """32 hex characters, unique without a system call per request: a random prefix per process
    (a fresh one after a fork) and a counter. Request ids name requests; they guard nothing."""
    return f"{_id_prefix}{next(_request_ids):016x}"


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-ID", "")
    request[REQUEST_ID] = given if _SAFE_ID.match(given) else new_request_id()
    token = request_id.bind(request[REQUEST_ID])  # for log lines and mail (core.request_id)
    try:
        response = await handler(request)
    finally:
        request_id.unbind(token)
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
            loggable_path(request),
            request.get(REQUEST_ID, "-"),
        )
        return problem(
            500,
            "server_error",
            "Internal Server Error",
            f"An unexpected error happened. Quote request id "
            f"{request.get(REQUEST_ID, '-')} when reporting it.",
        )
