"""JSON out, through msgspec: core's dataclasses become the contract's response Structs once,
here at the edge, and times become ISO 8601 UTC with a Z (core's clock is always UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from aiohttp import web

_encoder = msgspec.json.Encoder()


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def as_contract(value: Any, kind: Any) -> Any:
    """`value` (a core dataclass, or already a `kind`) as the contract's `kind`: a Struct, or
    `list[Struct]` for a collection."""
    if isinstance(kind, type) and isinstance(value, kind):
        return value
    return msgspec.convert(value, kind, from_attributes=True)


def dumps(value: Any) -> str:
    return _encoder.encode(value).decode()


def json_response(
    value: Any,
    status: int = 200,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.Response(
        body=_encoder.encode(value), status=status, content_type=content_type, headers=headers
    )
