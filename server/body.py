"""Reading request bodies into the contract's Structs.

Content type, size and JSON syntax are checked here, once, so bad input becomes a 400/413/415
problem and never reaches core (or a 500). Decoding is strict (a number is never a string: a code
sent as 42917 has lost its leading zero), every string is checked for control characters and
lone surrogates, and nesting is bounded before any parser recurses.

Valid bodies take one msgspec pass. Only a failing body takes the slow path, which looks at every
field so the problem document lists all of them, not just the first msgspec tripped on.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from contract.fields import refused_character
from core import errors

JSON_LIMIT = 64 * 1024
MAX_DEPTH = 32

T = TypeVar("T", bound=msgspec.Struct)
FieldErrors = dict[str, list[str]]

_TOKENS = re.compile(rb'"(?:[^"\\]+|\\.)*"|[\[\]{}]', re.DOTALL)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def read_limited(request: web.Request, limit: int) -> bytes:
    """Read the body, refusing (413) as soon as it is over `limit`, before it is all read."""
    if request.content_length is not None and request.content_length > limit:
        raise errors.TooLarge(f"The body is over the limit of {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise errors.TooLarge(f"The body is over the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Is any array or object nested deeper than `limit`? Brackets inside strings do not count."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for token in _TOKENS.finditer(raw):
        mark = token.group()
        if mark in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif mark in (b"]", b"}"):
            depth -= 1
    return False


async def _raw_json(request: web.Request) -> bytes:
    """The body as UTF-8 JSON text; empty when there is none."""
    if not request.body_exists:
        return b""
    if not _is_json(request.content_type):
        raise errors.UnsupportedMediaType(
            f"Send JSON with Content-Type: application/json, not {request.content_type!r}."
        )
    raw = await read_limited(request, JSON_LIMIT)
    charset = (request.charset or "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        try:
            raw = raw.decode(charset).encode("utf-8")
        except (LookupError, UnicodeError):
            raise errors.ParseError(f"The body is not valid {charset} text.") from None
    if too_deep(raw):
        raise errors.ParseError(f"The JSON body is nested deeper than {MAX_DEPTH} levels.")
    return raw


async def read_body(request: web.Request, kind: type[T]) -> T:
    """The body as a `kind`; an absent or blank body is `{}`."""
    raw = await _raw_json(request)
    if not raw.strip():
        raw = b"{}"
    try:
        body = msgspec.json.decode(raw, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec raises UnicodeDecodeError, not DecodeError, for bytes that are not UTF-8
        # inside a string: that was a 500 on every JSON route.
        body = _field_by_field(_plain(raw, exc), kind)
    problems = {name: [why] for name, value in _strings(body) if (why := refused_character(value))}
    missing = _missing_one_of(body)
    if problems or missing:
        raise errors.InvalidInput(errors={**missing, **problems})
    return body


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _plain(raw: bytes, first_error: Exception) -> Any:
    """The body as plain Python values, to look at field by field. msgspec refuses "\ud800" and
    1e999 while parsing; the standard library's parser keeps them, so the field that holds one
    can be named. What neither can read is a parse_error."""
    try:
        return msgspec.json.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        pass
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise errors.ParseError(f"The body is not valid JSON: {first_error}.") from None


def _reason(value: Any, exc: msgspec.ValidationError) -> str:
    if value is None:
        return "This field may not be null."
    if str(exc).startswith("Expected `str`"):
        return "Not a valid string."
    return str(exc)


def _field_by_field(data: Any, kind: type[T]) -> T:
    """`data` as a `kind`, or an InvalidInput naming every field that is wrong."""
    if not isinstance(data, dict):
        raise errors.ParseError("The JSON body must be an object.")
    problems: FieldErrors = {}
    for field in msgspec.structs.fields(kind):
        if field.encode_name not in data:
            if field.required:
                problems[field.encode_name] = ["This field is required."]
            continue
        value = data[field.encode_name]
        try:
            msgspec.convert(value, field.type)
        except msgspec.ValidationError as exc:
            problems[field.encode_name] = [_reason(value, exc)]
            continue
        if isinstance(value, str) and (why := refused_character(value)):
            problems[field.encode_name] = [why]
    one_of = getattr(kind, "one_of_required", ())
    if one_of and not any(name in data for name in one_of):
        problems.setdefault(one_of[0], ["This field is required."])
    if problems:
        raise errors.InvalidInput(errors=problems)
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:  # fine one by one, not together
        raise errors.InvalidInput(str(exc)) from None


def _strings(body: msgspec.Struct) -> list[tuple[str, str]]:
    return [
        (encode_name, value)
        for name, encode_name in _names(type(body))
        if isinstance(value := getattr(body, name), str)
    ]


@functools.cache
def _names(kind: type[msgspec.Struct]) -> tuple[tuple[str, str], ...]:
    """Each field's attribute and JSON names. msgspec.structs.fields resolves the annotations
    again on every call: 9% of the GIL samples of a worker under login load."""
    return tuple((field.name, field.encode_name) for field in msgspec.structs.fields(kind))


def _missing_one_of(body: msgspec.Struct) -> FieldErrors:
    """A body that must carry one of several fields (a login: username or email) and has none."""
    names = getattr(body, "one_of_required", ())
    if names and all(getattr(body, name) is msgspec.UNSET for name in names):
        return {names[0]: ["This field is required."]}
    return {}
