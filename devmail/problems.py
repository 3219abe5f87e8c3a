"""Problem documents (RFC 9457) for every failure, and reading request bodies safely.

Handlers raise `Problem`; one middleware renders it, and aiohttp's own 404/405/413, as
`application/problem+json`. Bodies are decoded straight into the typed request Structs of
`contract.mailpit`, so no input (30,000 levels of nesting, lone surrogates, NUL, numbers
where strings belong, huge numbers) reaches a handler as anything but a 400.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import parse_qs

import msgspec
from aiohttp import web

from contract.mailpit import DeleteRequest, ReadRequest

log = logging.getLogger(__name__)

_S = TypeVar("_S", bound=msgspec.Struct)


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, title: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title


class _ProblemDocument(msgspec.Struct):
    type: str
    title: str
    status: int
    detail: str
    code: str


def problem_response(
    status: int, code: str, detail: str, title: str | None = None, headers: Any = None
) -> web.Response:
    document = _ProblemDocument(
        "about:blank", title or HTTPStatus(status).phrase, status, detail, code
    )
    response = web.Response(
        body=msgspec.json.encode(document),
        status=status,
        content_type="application/problem+json",
    )
    if headers:
        response.headers.update(headers)
    return response


_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


@web.middleware
async def problems(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as problem:
        return problem_response(problem.status, problem.code, problem.detail, problem.title)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        code = _STATUS_CODES.get(exc.status, "bad_request" if exc.status < 500 else "error")
        detail = f"{request.method} {request.path}: {exc.reason}"
        return problem_response(exc.status, code, detail, headers=headers)
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return problem_response(500, "internal_error", "devmail failed; see its log")


def json_response(value: msgspec.Struct | list[Any] | dict[str, Any]) -> web.Response:
    return web.Response(body=msgspec.json.encode(value), content_type="application/json")


def decode(body: bytes, kind: type[_S]) -> _S:
    """`body` as a `kind`; top-level keys match case-insensitively, as Go's decoder (Mailpit's)
    does, so `{"ids": [...]}` works like `{"IDs": [...]}`."""
    example = "see the API documentation for the body of this route"
    try:
        top = msgspec.json.decode(body, type=dict[str, msgspec.Raw])
        names = {name.casefold(): name for name in kind.__struct_fields__}
        canonical = {names.get(key.casefold(), key): value for key, value in top.items()}
        return msgspec.json.decode(msgspec.json.encode(canonical), type=kind)
    except msgspec.ValidationError as exc:
        raise Problem(400, "malformed_body", f"the body is not valid here: {exc}") from None
    except (msgspec.DecodeError, RecursionError, UnicodeError):
        raise Problem(400, "malformed_body", f"the body must be a JSON object; {example}") from None


async def read_body(request: web.Request, kind: type[_S], *, empty: _S | None = None) -> _S:
    """The request body as `kind`. With `empty`, no body at all means that value.

    A form body (`ids=a&ids=b&Read=true`), as the mailpit-api-client package sends it, is read
    for the two routes that client uses: delete and mark read.
    """
    body = await request.read()
    if not body.strip():
        if empty is None:
            raise Problem(400, "malformed_body", "this route needs a JSON body")
        return empty
    if request.content_type == "application/x-www-form-urlencoded" and kind in _FORM_KINDS:
        return _from_form(body, kind)
    if len(body) > _DECODE_BESIDE_THE_LOOP:
        # A /send with 16 MB of attachments takes tens of ms to decode and check.
        return await asyncio.to_thread(decode, body, kind)
    return decode(body, kind)


_DECODE_BESIDE_THE_LOOP = 1 << 20  # bytes


_FORM_KINDS: tuple[type[msgspec.Struct], ...] = (DeleteRequest, ReadRequest)


def _from_form(body: bytes, kind: type[_S]) -> _S:
    try:
        # Blank values kept: dropped, `ids=` read as no IDs at all, which means every message.
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "malformed_body", "the form body could not be read") from None
    values: dict[str, Any] = {}
    for key, found in form.items():
        if key.casefold() == "ids":
            values["IDs"] = found
        elif key.casefold() == "read" and kind is ReadRequest:
            values["Read"] = found[-1].casefold() in ("true", "1", "yes", "on")
        else:
            raise Problem(400, "malformed_body", f"unknown form field {key!r}")
    try:
        return msgspec.convert(values, type=kind)
    except msgspec.ValidationError as exc:
        raise Problem(400, "malformed_body", f"the body is not valid here: {exc}") from None
