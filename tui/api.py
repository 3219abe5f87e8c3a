"""The only module of the TUI that speaks HTTP: the accounts service and the devmail catcher.

Every call returns a frozen dataclass or raises `ApiProblem`, and every exchange is recorded
(secrets masked) in an `HttpLog`, because the point of the TUI is to let a developer *see* what
went over the wire when "the emailed code is invalid". Nothing here knows about Textual.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import mimetypes
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

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
LOG_SIZE = 500
TIMEOUT = aiohttp.ClientTimeout(total=30)
_exchange_ids = itertools.count(1)


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
            return body
    return json.dumps(mask(body), indent=2, ensure_ascii=False)


def mask_path(path: str) -> str:
    """Reset UIDs travel in the path of the check route; keep only a recognisable prefix."""
    prefix = "/api/auth/password/reset/"
    if path.startswith(prefix) and path[len(prefix) :].strip("/") not in ("", "confirm"):
        uid = path[len(prefix) :].strip("/")
        return f"{prefix}{uid[:4]}{MASK}/"
    return path


@dataclass(frozen=True)
class Exchange:
    """One request and its response (or the failure to get one), as the log shows it."""

    id: int
    service: str  # "accounts" or "mail"
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
        retry_after = _int_or_none(headers.get("Retry-After"))
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


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- accounts results ------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    avatar_url: str | None
    date_joined: datetime | None
    email_verified: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> User:
        return cls(
            id=int(data["id"]),
            username=str(data["username"]),
            email=str(data["email"]),
            first_name=str(data.get("first_name", "")),
            last_name=str(data.get("last_name", "")),
            avatar_url=data.get("avatar_url"),
            date_joined=parse_time(data.get("date_joined")),
            email_verified=bool(data.get("email_verified")),
        )


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


@dataclass(frozen=True)
class SignupStarted:
    signup_id: str
    email: str
    expires_at: datetime | None
    resend_after: datetime | None


@dataclass(frozen=True)
class CodeSent:
    expires_at: datetime | None
    resend_after: datetime | None


@dataclass(frozen=True)
class Verified:
    user: User
    tokens: TokenPair


@dataclass(frozen=True)
class ResetCheck:
    valid: bool
    expires_at: datetime | None


@dataclass(frozen=True)
class Health:
    status: str


# --- devmail results -------------------------------------------------------------------------


@dataclass(frozen=True)
class MailAddress:
    name: str
    address: str

    @classmethod
    def from_json(cls, data: Any) -> MailAddress:
        data = data if isinstance(data, dict) else {}
        return cls(str(data.get("Name") or ""), str(data.get("Address") or ""))

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass(frozen=True)
class MailSummary:
    id: str
    from_: MailAddress
    to: tuple[MailAddress, ...]
    subject: str
    created: datetime | None
    snippet: str
    codes: tuple[str, ...]
    links: tuple[str, ...]
    flow: str | None
    ref: str | None
    ref_seq: int | None
    superseded: bool
    superseded_by: str | None
    read: bool
    seq: int = 0  # devmail's arrival counter: orders messages created in the same millisecond

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MailSummary:
        return cls(
            id=str(data["ID"]),
            from_=MailAddress.from_json(data.get("From")),
            to=tuple(MailAddress.from_json(a) for a in data.get("To") or ()),
            subject=str(data.get("Subject") or ""),
            created=parse_time(data.get("Created")),
            snippet=str(data.get("Snippet") or ""),
            codes=tuple(str(c) for c in data.get("Codes") or ()),
            links=tuple(str(u) for u in data.get("Links") or ()),
            flow=data.get("Flow") or None,
            ref=data.get("Ref") or None,
            ref_seq=_int_or_none(data.get("RefSeq")),
            superseded=bool(data.get("Superseded")),
            superseded_by=data.get("SupersededBy") or None,
            read=bool(data.get("Read")),
            seq=_int_or_none(data.get("Seq")) or 0,
        )

    @property
    def to_text(self) -> str:
        return ", ".join(a.address for a in self.to)


@dataclass(frozen=True)
class MailMessage:
    summary: MailSummary
    text: str
    html: str
    headers: dict[str, list[str]]


@dataclass(frozen=True)
class MailPage:
    total: int
    unread: int
    messages: tuple[MailSummary, ...]


@dataclass(frozen=True)
class MailEvent:
    """A websocket event; type "connected" is ours: the socket is open, list now, miss nothing."""

    type: str
    summary: MailSummary | None


# --- the transport ---------------------------------------------------------------------------


@dataclass
class _Reply:
    status: int
    body: Any
    headers: Mapping[str, str]


@dataclass
class _Http:
    """A lazily opened aiohttp session that records every exchange in `log`."""

    base_url: str
    service: str
    log: HttpLog
    session: aiohttp.ClientSession | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self.session

    async def close(self) -> None:
        if self.session is not None and not self.session.closed:
            await self.session.close()

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
    ) -> _Reply:
        request_id = uuid.uuid4().hex
        sent = {"X-Request-ID": request_id, **self.headers, **(headers or {})}
        url = self.url(path)
        shown_url = url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        request_text = render_body(json_body if json_body is not None else logged_body)
        try:
            async with self._session().request(
                method,
                url,
                json=json_body,
                data=data,
                params=params,
                headers=sent,
                timeout=client_timeout or TIMEOUT,
            ) as response:
                raw = await response.read()
                status = response.status
                reply_headers = response.headers
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self._record(
                method, shown_url, path, None, t0, request_id, request_text, "", started, reason
            )
            raise ApiProblem(
                0, "unreachable", f"{self.service} at {self.base_url}: {reason}"
            ) from exc
        text = raw.decode("utf-8", errors="replace")
        body: Any
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = text
        self._record(
            method,
            shown_url,
            path,
            status,
            t0,
            reply_headers.get("X-Request-ID", request_id),
            request_text,
            render_body(body if not isinstance(body, str) else text),
            started,
        )
        if status >= 400:
            raise ApiProblem.from_response(status, body, reply_headers)
        return _Reply(status, body, reply_headers)

    def _record(
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
    ) -> None:
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
            )
        )


def _object(reply: _Reply) -> dict[str, Any]:
    if not isinstance(reply.body, dict):
        raise ApiProblem(reply.status, "unexpected_body", f"expected a JSON object: {reply.body!r}")
    return reply.body


def _started(data: dict[str, Any]) -> SignupStarted:
    return SignupStarted(
        signup_id=str(data["signup_id"]),
        email=str(data.get("email", "")),
        expires_at=parse_time(data.get("expires_at")),
        resend_after=parse_time(data.get("resend_after")),
    )


def _code_sent(data: dict[str, Any]) -> CodeSent:
    return CodeSent(parse_time(data.get("expires_at")), parse_time(data.get("resend_after")))


def _pair(data: dict[str, Any]) -> TokenPair:
    return TokenPair(access=str(data["access"]), refresh=str(data["refresh"]))


class AccountsClient:
    """Every route of the accounts service. Holds the current login like a SimpleJWT client:
    the access token goes in each authenticated request, and one 401 `token_invalid` triggers one
    refresh and one retry (the server's clock decides expiry, not ours)."""

    def __init__(self, base_url: str, log: HttpLog | None = None) -> None:
        self.log = log if log is not None else HttpLog()
        self._http = _Http(base_url, "accounts", self.log)
        self.tokens: TokenPair | None = None
        self._refreshing: asyncio.Lock | None = None

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def logged_in(self) -> bool:
        return self.tokens is not None

    async def close(self) -> None:
        await self._http.close()

    async def _post(self, path: str, body: dict[str, Any]) -> _Reply:
        return await self._http.request("POST", path, json_body=body)

    async def _authed(self, method: str, path: str, **kwargs: Any) -> _Reply:
        if self.tokens is None:
            raise ApiProblem(401, "not_logged_in", "Log in first: this route needs a token.")
        used = self.tokens
        try:
            return await self._http.request(
                method, path, headers={"Authorization": f"Bearer {used.access}"}, **kwargs
            )
        except ApiProblem as problem:
            if problem.status != 401 or problem.code != "token_invalid":
                raise
        await self._refresh_after_401(used)
        assert self.tokens is not None
        return await self._http.request(
            method, path, headers={"Authorization": f"Bearer {self.tokens.access}"}, **kwargs
        )

    async def _refresh_after_401(self, used: TokenPair) -> None:
        """Refresh once, even if several calls hit the 401 together (a refresh token is single
        use: two concurrent refreshes would look like reuse and revoke the login)."""
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        async with self._refreshing:
            if self.tokens is not used:
                if self.tokens is None:
                    raise ApiProblem(401, "not_logged_in", "The login ended; log in again.")
                return
            try:
                await self.refresh()
            except ApiProblem:
                self.tokens = None
                raise

    # signup
    async def signup_start(
        self, *, first_name: str, last_name: str, username: str, email: str, password: str
    ) -> SignupStarted:
        reply = await self._post(
            "/api/auth/signup/",
            {
                "first_name": first_name,
                "last_name": last_name,
                "username": username,
                "email": email,
                "password": password,
            },
        )
        return _started(_object(reply))

    async def signup_verify(self, signup_id: str, code: str) -> Verified:
        data = _object(
            await self._post("/api/auth/signup/verify/", {"signup_id": signup_id, "code": code})
        )
        verified = Verified(User.from_json(data["user"]), _pair(data))
        self.tokens = verified.tokens
        return verified

    async def signup_resend(self, signup_id: str) -> CodeSent:
        reply = await self._post("/api/auth/signup/resend/", {"signup_id": signup_id})
        return _code_sent(_object(reply))

    # tokens
    async def login(self, username: str, password: str) -> TokenPair:
        self.tokens = _pair(
            _object(await self._post("/api/token/", {"username": username, "password": password}))
        )
        return self.tokens

    async def refresh(self) -> TokenPair:
        if self.tokens is None:
            raise ApiProblem(401, "not_logged_in", "There is no refresh token: log in first.")
        data = _object(await self._post("/api/token/refresh/", {"refresh": self.tokens.refresh}))
        self.tokens = _pair(data)
        return self.tokens

    async def verify_token(self, token: str | None = None) -> bool:
        """True when the server accepts `token` (default: the current access token)."""
        if token is None:
            if self.tokens is None:
                return False
            token = self.tokens.access
        try:
            await self._post("/api/token/verify/", {"token": token})
        except ApiProblem as problem:
            if problem.status == 401:
                return False
            raise
        return True

    async def logout(self) -> None:
        """Revoke this login's refresh token and forget the tokens (even if the server says the
        token was already invalid: the user asked to be logged out)."""
        tokens, self.tokens = self.tokens, None
        if tokens is not None:
            try:
                await self._post("/api/token/revoke/", {"refresh": tokens.refresh})
            except ApiProblem as problem:
                if problem.status != 401:
                    raise

    async def logout_all(self) -> None:
        await self._authed("POST", "/api/auth/logout-all/")
        self.tokens = None

    # me
    async def me(self) -> User:
        return User.from_json(_object(await self._authed("GET", "/api/me/")))

    async def update_me(self, **changes: str) -> User:
        return User.from_json(_object(await self._authed("PATCH", "/api/me/", json_body=changes)))

    async def delete_me(self, password: str) -> None:
        await self._authed("DELETE", "/api/me/", json_body={"password": password})
        self.tokens = None

    async def change_password(self, current_password: str, new_password: str) -> TokenPair:
        reply = await self._authed(
            "POST",
            "/api/me/password/",
            json_body={"current_password": current_password, "new_password": new_password},
        )
        self.tokens = _pair(_object(reply))
        return self.tokens

    async def email_change(self, email: str, password: str) -> CodeSent:
        reply = await self._authed(
            "POST", "/api/me/email/", json_body={"email": email, "password": password}
        )
        return _code_sent(_object(reply))

    async def email_verify(self, code: str) -> User:
        reply = await self._authed("POST", "/api/me/email/verify/", json_body={"code": code})
        return User.from_json(_object(reply))

    async def put_avatar(self, path: str | Path) -> User:
        name, content = await asyncio.to_thread(_read_file, path)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        form = aiohttp.FormData()
        form.add_field("avatar", content, filename=name, content_type=content_type)
        reply = await self._authed(
            "PUT",
            "/api/me/avatar/",
            data=form,
            logged_body=f"multipart avatar: {name} ({content_type}, {len(content)} bytes)",
        )
        return User.from_json(_object(reply))

    async def delete_avatar(self) -> None:
        await self._authed("DELETE", "/api/me/avatar/")

    # password reset
    async def reset_request(self, email: str) -> str:
        reply = await self._post("/api/auth/password/reset/", {"email": email})
        return str(_object(reply).get("detail", ""))

    async def reset_check(self, uid: str) -> ResetCheck:
        reply = await self._http.request("GET", f"/api/auth/password/reset/{quote(uid, safe='')}/")
        data = _object(reply)
        return ResetCheck(bool(data.get("valid")), parse_time(data.get("expires_at")))

    async def reset_confirm(self, uid: str, new_password: str, re_new_password: str) -> None:
        await self._post(
            "/api/auth/password/reset/confirm/",
            {"uid": uid, "new_password": new_password, "re_new_password": re_new_password},
        )

    # operations
    async def healthz(self) -> Health:
        return Health(str(_object(await self._http.request("GET", "/healthz")).get("status")))


def _read_file(path: str | Path) -> tuple[str, bytes]:
    file = Path(path).expanduser()
    return file.name, file.read_bytes()


def uid_from(link_or_uid: str) -> str:
    """The reset UID from a pasted mail link (`.../reset-password/<uid>`) or the bare UID."""
    text = link_or_uid.strip()
    if "://" in text or text.startswith("/"):
        parts = [p for p in urlsplit(text).path.split("/") if p]
        return parts[-1] if parts else ""
    return text


class MailClient:
    """devmail's Mailpit-style API and its websocket of events."""

    def __init__(self, base_url: str, log: HttpLog | None = None) -> None:
        self.log = log if log is not None else HttpLog()
        self._http = _Http(base_url, "mail", self.log)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    async def close(self) -> None:
        await self._http.close()

    async def messages(self, start: int = 0, limit: int = 200) -> MailPage:
        reply = await self._http.request(
            "GET", "/api/v1/messages", params={"start": str(start), "limit": str(limit)}
        )
        data = _object(reply)
        return MailPage(
            total=int(data.get("total", 0)),
            unread=int(data.get("unread", 0)),
            messages=tuple(MailSummary.from_json(m) for m in data.get("messages") or ()),
        )

    async def message(self, message_id: str) -> MailMessage:
        data = _object(
            await self._http.request("GET", f"/api/v1/message/{quote(message_id, safe='')}")
        )
        return _mail_message(data)

    async def latest(
        self, query: str = "", *, wait: float = 0, after: str | None = None
    ) -> MailMessage | None:
        """The newest message matching `query`, holding up to `wait` seconds; None if none."""
        params = {"query": query}
        if wait:
            params["wait"] = f"{wait:g}"
        if after:
            params["after"] = after
        try:
            reply = await self._http.request(
                "GET",
                "/api/v1/message/latest",
                params=params,
                client_timeout=aiohttp.ClientTimeout(total=wait + 30),
            )
        except ApiProblem as problem:
            if problem.status == 404:
                return None
            raise
        return _mail_message(_object(reply))

    async def delete_all(self) -> None:
        await self._http.request("DELETE", "/api/v1/messages")

    async def events(self) -> AsyncIterator[MailEvent]:
        """Events from the websocket, starting with a synthetic "connected" once it is open, so
        a caller can list what is already there without missing anything in between."""
        url = self._http.url("/api/events").replace("http", "ws", 1)
        t0 = time.perf_counter()
        started = datetime.now(UTC)
        try:
            ws = await self._http._session().ws_connect(url, heartbeat=30)
        except (aiohttp.ClientError, OSError) as exc:
            self._http._record("GET", url, "/api/events", None, t0, "", "", "", started, str(exc))
            raise ApiProblem(0, "unreachable", f"mail events at {url}: {exc}") from exc
        self._http._record("GET", url, "/api/events", 101, t0, "", "", "websocket open", started)
        try:
            yield MailEvent("connected", None)
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                try:
                    event = json.loads(message.data)
                    summary = MailSummary.from_json(event["Data"])
                except (ValueError, KeyError, TypeError):
                    continue
                yield MailEvent(str(event.get("Type", "")), summary)
        finally:
            await ws.close()


def _mail_message(data: dict[str, Any]) -> MailMessage:
    headers = data.get("Headers")
    return MailMessage(
        summary=MailSummary.from_json(data),
        text=str(data.get("Text") or ""),
        html=str(data.get("HTML") or ""),
        headers=headers if isinstance(headers, dict) else {},
    )
