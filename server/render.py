"""JSON out: dataclasses become objects and times become ISO 8601 UTC with a Z."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":"))


def json_response(value: Any, status: int = 200, **kwargs: Any) -> web.Response:
    return web.json_response(value, status=status, dumps=dumps, **kwargs)
