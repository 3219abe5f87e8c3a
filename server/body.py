"""Reading request bodies: content type, size limit and JSON syntax are checked here, once, so
bad input becomes a 400/413/415 problem and never reaches core (or a 500)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from core import errors

JSON_LIMIT = 64 * 1024


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


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object in the body; an empty body counts as {}."""
    if not request.body_exists:
        return {}
    if not _is_json(request.content_type):
        raise errors.UnsupportedMediaType(
            f"Send JSON with Content-Type: application/json, not {request.content_type!r}."
        )
    raw = await read_limited(request, JSON_LIMIT)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode(request.charset or "utf-8"))
    except (UnicodeDecodeError, LookupError, json.JSONDecodeError) as exc:
        raise errors.ParseError(f"The body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise errors.ParseError("The JSON body must be an object.")
    return data


def strings(
    data: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, str]:
    """Pick string fields; a missing required field or a non-string value is a field error.

    A code sent as a JSON number is refused here: it has already lost its leading zeros.
    """
    problems: dict[str, list[str]] = {}
    picked: dict[str, str] = {}
    for name in required + optional:
        if name not in data or data[name] is None:
            if name in required:
                problems[name] = ["This field is required."]
            continue
        value = data[name]
        if not isinstance(value, str):
            problems[name] = ["Not a valid string."]
            continue
        picked[name] = value
    if problems:
        raise errors.InvalidInput(errors=problems)
    return picked
