"""What went over the wire: one `Exchange` per request, kept in a bounded `HttpLog`, with every
secret masked before it is stored, because the log is shown on screen and copied as curl."""

from __future__ import annotations

import json
import re
import shlex
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MASK = "***"
# Keys whose values are secrets in any JSON body we send or receive. Codes are deliberately not
# here: seeing which code went where is the debugging this tool exists for.
SECRET_KEYS = frozenset(
    {
        "password",
        "current_password",
        "new_password",
        "re_new_password",
        "access",
        "refresh",
        "token",
        "uid",
    }
)
# Headers whose values are credentials; Authorization keeps its scheme so "Bearer" stays visible.
SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
# Reset UIDs travel in links (mail bodies, Links) and in the check route's path.
_UID_IN_TEXT = re.compile(
    r"(/reset-password/|/api/auth/password/reset/)(?!confirm\b)([\w-]{4})[\w-]+"
)
LOG_SIZE = 500


def mask(value: Any) -> Any:
    """A copy of a JSON value with every secret-keyed string replaced by MASK."""
    if isinstance(value, Mapping):
        return {
            k: (MASK if k in SECRET_KEYS and isinstance(v, str) else mask(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def mask_text(text: str) -> str:
    """Reset UIDs inside any text (a path, a mail body, a link) keep a recognisable prefix."""
    return _UID_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def render_body(body: Any) -> str:
    """How a body appears in the log: masked, pretty JSON when it is JSON."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        return f"<{len(body)} bytes>"
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return mask_text(body)
    return mask_text(json.dumps(mask(body), indent=2, ensure_ascii=False))


def mask_path(path: str) -> str:
    """Reset UIDs travel in the path of the check route; keep only a recognisable prefix."""
    return mask_text(path)


def mask_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Header pairs as the log keeps them: credentials replaced, the auth scheme kept."""
    kept = []
    for name, value in headers:
        if name.lower() in SECRET_HEADERS:
            scheme, _, rest = value.partition(" ")
            value = f"{scheme} {MASK}" if rest else MASK
        kept.append((name, mask_text(value)))
    return tuple(kept)


@dataclass(frozen=True)
class Exchange:
    """One request and its response (or the failure to get one), as the log shows it."""

    id: int
    service: str  # "accounts" or "devmail"
    method: str
    url: str
    path: str
    status: int | None
    duration_ms: float
    request_id: str
    request_body: str
    response_body: str
    started: datetime
    error: str = ""
    request_headers: tuple[tuple[str, str], ...] = ()
    response_headers: tuple[tuple[str, str], ...] = ()
    # Reads the mailbox makes on its own (listing, opening a row, the event socket): kept, but
    # out of the way, so the requests a person caused stand out.
    background: bool = False

    @property
    def curl(self) -> str:
        """The request as a curl command line, secrets still masked (the log never had them)."""
        parts = ["curl", "-X", self.method, shlex.quote(self.url)]
        skipped = {"host", "content-length", "accept-encoding", "user-agent", "accept"}
        for name, value in self.request_headers:
            if name.lower() not in skipped:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.request_body:
            try:
                body = json.dumps(json.loads(self.request_body), separators=(",", ":"))
            except ValueError:  # a file upload: the log kept a description, not the bytes
                return " ".join(parts) + f"  # body not kept: {self.request_body}"
            parts += ["--data-raw", shlex.quote(body)]
        return " ".join(parts)


class HttpLog:
    """A bounded record of exchanges; listeners hear about each one as it is recorded."""

    def __init__(self, maxlen: int = LOG_SIZE) -> None:
        self.entries: deque[Exchange] = deque(maxlen=maxlen)
        self._listeners: list[Callable[[Exchange], None]] = []

    def subscribe(self, listener: Callable[[Exchange], None]) -> None:
        self._listeners.append(listener)

    def record(self, exchange: Exchange) -> None:
        self.entries.append(exchange)
        for listener in self._listeners:
            listener(exchange)
