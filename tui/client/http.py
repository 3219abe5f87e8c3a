"""The transport both clients share: a lazily opened aiohttp session that sends an X-Request-ID
with every request and records every exchange (secrets masked) in the HttpLog."""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
import msgspec

from tui.client.exchange import Exchange, HttpLog, mask_headers, mask_path, render_body
from tui.client.problem import ApiProblem

TIMEOUT = aiohttp.ClientTimeout(total=30)
# Health checks run every few seconds: a service that takes longer than this counts as down.
HEALTH_TIMEOUT = aiohttp.ClientTimeout(total=2)
_exchange_ids = itertools.count(1)
T = TypeVar("T")


def short_reason(exc: BaseException) -> str:
    """A few words for the health banner; the full exception text stays in the log entry."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        errno = exc.os_error.errno
        return f"cannot connect: {os.strerror(errno) if errno else exc.os_error}"
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return "no answer in time"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "it closed the connection"
    return type(exc).__name__


@dataclass
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]
    raw: bytes = b""


def decoded(reply: Reply, shape: type[T]) -> T:
    """The reply's body as the contract's Struct (contract/): a body that breaks the contract is
    an ApiProblem that names the field, not a KeyError deep inside a screen."""
    try:
        return msgspec.json.decode(reply.raw, type=shape)
    # msgspec raises UnicodeDecodeError, not DecodeError, for bytes that are not UTF-8 in a string
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ApiProblem(
            reply.status, "unexpected_body", f"{shape.__name__} expected: {exc}"
        ) from exc


@dataclass
class Transport:
    """One service's base URL and session; `service` names it in the log."""

    base_url: str
    service: str
    log: HttpLog
    session: aiohttp.ClientSession | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def open_session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self.session

    async def close(self) -> None:
        if self.session is not None and not self.session.closed:
            await self.session.close()

    def unreachable(self, reason: str) -> ApiProblem:
        """One short sentence for every form: the why is in the log and in the health banner,
        which also says when the service is back."""
        return ApiProblem(
            0,
            "unreachable",
            f"{self.service} at {self.base_url} did not answer; see the banner at the top.",
            extra={"service": self.service, "reason": reason},
        )

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: Any = None,
        logged_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        client_timeout: aiohttp.ClientTimeout | None = None,
        background: bool = False,
        recorded: bool = True,
        raw: bool = False,
    ) -> Reply:
        """`raw`: the body is binary (an image); the reply keeps its bytes and the log shows
        only its type and size."""
        request_id = uuid.uuid4().hex
        sent = {"X-Request-ID": request_id, **self.headers, **(headers or {})}
        url = self.url(path)
        shown_url = url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        request_text = render_body(json_body if json_body is not None else logged_body)
        seen = Seen(request_headers=tuple(sent.items()), background=background)
        if json_body is not None:
            seen.request_headers += (("Content-Type", "application/json"),)
        try:
            async with self.open_session().request(
                method,
                url,
                json=json_body,
                data=data,
                params=params,
                headers=sent,
                timeout=client_timeout or TIMEOUT,
            ) as response:
                content = await response.read()
                status = response.status
                reply_headers = response.headers
                seen.request_headers = tuple(response.request_info.headers.items())
                seen.response_headers = tuple(reply_headers.items())
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self.record(
                method,
                shown_url,
                path,
                None,
                t0,
                request_id,
                request_text,
                "",
                started,
                reason,
                seen=seen,
                recorded=recorded,
            )
            raise self.unreachable(short_reason(exc)) from exc
        body: Any = None
        if raw and status < 400:
            shown = f"{reply_headers.get('Content-Type', '?')}, {len(content)} bytes"
        else:
            text = content.decode("utf-8", errors="replace")
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = text
            shown = render_body(body if not isinstance(body, str) else text)
        self.record(
            method,
            shown_url,
            path,
            status,
            t0,
            reply_headers.get("X-Request-ID", request_id),
            request_text,
            shown,
            started,
            seen=seen,
            recorded=recorded,
        )
        if raw and status < 400:
            return Reply(status, content, reply_headers)
        if status >= 400:
            raise ApiProblem.from_response(status, body, reply_headers)
        return Reply(status, body, reply_headers, content)

    def record(
        self,
        method: str,
        url: str,
        path: str,
        status: int | None,
        t0: float,
        request_id: str,
        request_body: str,
        response_body: str,
        started: datetime,
        error: str = "",
        *,
        seen: Seen | None = None,
        recorded: bool = True,
    ) -> None:
        if not recorded:
            return
        seen = seen or Seen()
        self.log.record(
            Exchange(
                id=next(_exchange_ids),
                service=self.service,
                method=method,
                url=url.replace(path, mask_path(path), 1),
                path=mask_path(path),
                status=status,
                duration_ms=(time.perf_counter() - t0) * 1000,
                request_id=request_id,
                request_body=request_body,
                response_body=response_body,
                started=started,
                error=error,
                request_headers=mask_headers(seen.request_headers),
                response_headers=mask_headers(seen.response_headers),
                background=seen.background,
            )
        )


@dataclass
class Seen:
    """What the log keeps about an exchange beyond its line: headers, and whether it was asked
    for by a person or by the mailbox on its own."""

    request_headers: tuple[tuple[str, str], ...] = ()
    response_headers: tuple[tuple[str, str], ...] = ()
    background: bool = False
