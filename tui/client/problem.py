"""`ApiProblem`: the one exception every client call raises, from a problem document or from a
transport failure, so a pane handles every failure in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApiProblem(Exception):
    """A problem document (RFC 9457) from either service, or a transport failure (status 0)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        errors: dict[str, list[str]] | None = None,
        *,
        title: str = "",
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or {}
        self.title = title
        self.extra = extra or {}
        self.retry_after = retry_after

    @property
    def attempts_left(self) -> int | None:
        value = self.extra.get("attempts_left")
        return value if isinstance(value, int) else None

    @classmethod
    def from_response(cls, status: int, body: Any, headers: Mapping[str, str]) -> ApiProblem:
        retry_after = int_or_none(headers.get("Retry-After"))
        if not isinstance(body, dict):
            text = body if isinstance(body, str) and body else f"HTTP {status}"
            return cls(status, f"http_{status}", text[:500], retry_after=retry_after)
        known = {"type", "title", "status", "detail", "code", "errors"}
        errors = body.get("errors")
        return cls(
            status,
            str(body.get("code") or f"http_{status}"),
            str(body.get("detail") or body.get("title") or f"HTTP {status}"),
            errors if isinstance(errors, dict) else None,
            title=str(body.get("title") or ""),
            extra={k: v for k, v in body.items() if k not in known},
            retry_after=retry_after,
        )


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
