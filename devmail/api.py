"""The HTTP side: Mailpit's API v1 (paths and PascalCase fields) plus devmail's extensions.

The SMTP server is started in a cleanup_ctx on this same loop, so one process and one thread
serve both protocols and a test can run the whole catcher under `aiohttp_client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, quote

from aiohttp import WSCloseCode, WSMsgType, web

from devmail import __version__
from devmail.config import Config
from devmail.parse import Address, Attachment, part_bytes
from devmail.search import Query, QueryError, parse_query
from devmail.smtp import SmtpServer, SmtpStats, start_smtp
from devmail.store import Event, Store, SubscriberLagged, Subscription, Summary

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 300.0
DEFAULT_LIMIT = 50


@dataclass
class DevmailServer:
    """Everything a running devmail holds; `smtp_port` is the bound one (useful with port 0)."""

    config: Config
    store: Store
    stats: SmtpStats = field(default_factory=SmtpStats)
    started: float = field(default_factory=time.monotonic)
    smtp: SmtpServer | None = None
    websockets: set[web.WebSocketResponse] = field(default_factory=set)
    _websockets_changed: asyncio.Condition | None = None

    @property
    def smtp_port(self) -> int:
        if self.smtp is None:
            raise RuntimeError("devmail's SMTP server is not running (is the app started?)")
        return self.smtp.port

    def _ws_condition(self) -> asyncio.Condition:
        if self._websockets_changed is None:
            self._websockets_changed = asyncio.Condition()
        return self._websockets_changed

    async def _ws_changed(self) -> None:
        condition = self._ws_condition()
        async with condition:
            condition.notify_all()

    async def wait_websockets(self, count: int) -> None:
        """Return once exactly `count` websocket subscribers are connected (for tests, tools)."""
        condition = self._ws_condition()
        async with condition:
            await condition.wait_for(lambda: len(self.websockets) == count)


DEVMAIL_KEY = web.AppKey("devmail", DevmailServer)


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[_problems], client_max_size=1024 * 1024)
    app[DEVMAIL_KEY] = DevmailServer(
        config=config, store=Store(max_messages=config.max_messages, db_path=config.db_path)
    )
    app.cleanup_ctx.append(_run_smtp_and_store)
    app.on_shutdown.append(_release_waiters)
    for method, path, handler in _ROUTES:
        app.router.add_route(method, path, handler)
        app.router.add_route(method, path + "/", handler)
    return app


async def _run_smtp_and_store(app: web.Application) -> AsyncIterator[None]:
    server = app[DEVMAIL_KEY]
    await server.store.open()
    try:
        server.smtp = await start_smtp(server.config, server.store, server.stats)
    except BaseException:
        await server.store.close()
        raise
    log.info("devmail SMTP listening on %s:%s", server.config.host, server.smtp_port)
    yield
    await server.smtp.close()
    await server.store.close()


async def _release_waiters(app: web.Application) -> None:
    """Shutdown must not wait for long-polls (up to 300 s) or websockets to end by themselves."""
    server = app[DEVMAIL_KEY]
    await server.store.release()
    for ws in list(server.websockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"devmail is shutting down")


# --- problems --------------------------------------------------------------------------------


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, title: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title


def problem_response(
    status: int, code: str, detail: str, title: str | None = None, headers: Any = None
) -> web.Response:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    response = web.json_response(body, status=status, content_type="application/problem+json")
    if headers:
        response.headers.update(headers)
    return response


_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


@web.middleware
async def _problems(
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


# --- rendering -------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _address(address: Address) -> dict[str, str]:
    return {"Name": address.name, "Address": address.address}


def _attachment(attachment: Attachment) -> dict[str, Any]:
    return {
        "PartID": attachment.part_id,
        "FileName": attachment.file_name,
        "ContentType": attachment.content_type,
        "ContentID": attachment.content_id,
        "Size": attachment.size,
    }


def render_summary(summary: Summary) -> dict[str, Any]:
    """Mailpit's message summary (Attachments is a count there) plus the extension fields."""
    stored = summary.message
    p = stored.parsed
    return {
        "ID": stored.id,
        "MessageID": p.message_id,
        "Read": summary.read,
        "From": _address(p.from_) if p.from_ else None,
        "To": [_address(a) for a in p.to],
        "Cc": [_address(a) for a in p.cc],
        "Bcc": [_address(a) for a in p.bcc],
        "ReplyTo": [_address(a) for a in p.reply_to],
        "Subject": p.subject,
        "Created": _iso(stored.created),
        "Size": stored.size,
        "Snippet": p.snippet,
        "Attachments": len(p.attachments),
        "Tags": [],
        "Seq": stored.seq,
        "Envelope": {
            "MailFrom": stored.envelope.mail_from,
            "RcptTo": list(stored.envelope.rcpt_to),
        },
        "EnvelopeMismatch": stored.envelope_mismatch,
        "Codes": list(p.codes),
        "Links": list(p.links),
        "Flow": p.flow,
        "Ref": p.ref,
        "RefSeq": p.ref_seq,
        "Superseded": summary.superseded,
        "SupersededBy": summary.superseded_by,
    }


def canonical_header_name(name: str) -> str:
    """Mailpit (Go) canonicalises header names: "message-id" and "Message-ID" are "Message-Id"."""
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


def render_headers(summary: Summary) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in summary.message.parsed.headers:
        headers.setdefault(canonical_header_name(name), []).append(value)
    return headers


def render_message(summary: Summary) -> dict[str, Any]:
    stored = summary.message
    p = stored.parsed
    body = render_summary(summary)
    body.update(
        {
            "ReturnPath": p.return_path or stored.envelope.mail_from,
            "Date": _iso(p.date) if p.date else _iso(stored.created),
            "Text": p.text,
            "HTML": p.html,
            "Attachments": [_attachment(a) for a in p.attachments],
            "Inline": [_attachment(a) for a in p.inline],
            "Headers": render_headers(summary),
        }
    )
    return body


def render_event(event: Event) -> dict[str, Any]:
    return {"Type": event.type, "Data": render_summary(event.summary)}


# --- parameters ------------------------------------------------------------------------------


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Problem(400, "invalid_parameter", f"{name} must be a whole number") from None
    if value < 0:
        raise Problem(400, "invalid_parameter", f"{name} must not be negative")
    return value


def _query_param(request: web.Request) -> Query:
    try:
        return parse_query(request.query.get("query", ""))
    except QueryError as exc:
        raise Problem(400, "invalid_query", str(exc)) from None


def _wait_param(request: web.Request) -> float:
    """Seconds to hold a `latest` request; values above MAX_WAIT_SECONDS are capped to it."""
    raw = request.query.get("wait")
    if raw is None or raw == "":
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise Problem(400, "invalid_parameter", "wait must be a number of seconds, 0 or more")
    return min(seconds, MAX_WAIT_SECONDS)


def _after_param(request: web.Request, store: Store) -> int:
    after = request.query.get("after")
    if not after:
        return 0
    seq = store.seq_of(after)
    if seq is None:
        raise Problem(400, "unknown_after", f"after={after} names no message devmail has seen")
    return seq


async def _resolve(request: web.Request) -> Summary:
    """The message named in the path: an ID, or `latest` (with query, after and wait)."""
    store = request.app[DEVMAIL_KEY].store
    message_id = request.match_info["id"]
    if message_id != "latest":
        found = store.summary(message_id)
        if found is None:
            raise Problem(404, "message_not_found", f"no message with ID {message_id}")
        return found
    query = _query_param(request)
    after_seq = _after_param(request, store)
    seconds = _wait_param(request)
    if seconds > 0:
        latest = await store.wait_latest(query, after_seq, seconds)
    else:
        latest = store.latest(query, after_seq)
    if latest is None and store.released:
        raise Problem(503, "shutting_down", "devmail is shutting down")
    if latest is None:
        waited = f" within {seconds:g} s" if seconds else ""
        raise Problem(404, "message_not_found", f"no message matches{waited}")
    return latest


# --- handlers --------------------------------------------------------------------------------


def _listing(request: web.Request, summaries: list[Summary]) -> web.Response:
    store = request.app[DEVMAIL_KEY].store
    start = _int_param(request, "start", 0)
    limit = _int_param(request, "limit", DEFAULT_LIMIT)
    page = summaries[start : start + limit]
    return web.json_response(
        {
            "total": len(store),
            "unread": store.unread,
            "count": len(page),
            "messages_count": len(summaries),
            "messages_unread": sum(1 for s in summaries if not s.read),
            "start": start,
            "tags": [],
            "messages": [render_summary(s) for s in page],
        }
    )


async def list_messages(request: web.Request) -> web.Response:
    return _listing(request, request.app[DEVMAIL_KEY].store.summaries())


async def search_messages(request: web.Request) -> web.Response:
    store = request.app[DEVMAIL_KEY].store
    return _listing(request, store.summaries(_query_param(request)))


async def delete_search(request: web.Request) -> web.Response:
    """Mailpit's DELETE /api/v1/search: delete what the query matches (everything if empty)."""
    store = request.app[DEVMAIL_KEY].store
    query = _query_param(request)
    if not query.terms:
        raise Problem(
            400, "invalid_query", "a query is required; DELETE /api/v1/messages clears all"
        )
    await store.delete([s.message.id for s in store.summaries(query)])
    return web.Response(text="ok")


async def _ids_to_delete(request: web.Request) -> list[str] | None:
    """The IDs a DELETE names; None means all.

    Accepted: no body, `{}` or `{"IDs": null}` (all); `{"IDs": [...]}` (those; an empty list
    deletes nothing); the key matched case-insensitively as Go's decoder does for Mailpit.
    A form body `ids=a&ids=b` is read too, as the mailpit-api-client package sends it.
    Anything else is a 400, unlike Mailpit, which deletes everything on a body it can't read.
    """
    body = await request.read()
    if not body.strip():
        return None
    if request.content_type == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise Problem(400, "malformed_body", "the form body could not be read") from None
        return [v for key, values in form.items() if key.lower() == "ids" for v in values] or None
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "malformed_body", 'the body must be JSON: {"IDs": [...]}') from None
    if not isinstance(data, dict) or any(key.lower() != "ids" for key in data):
        raise Problem(400, "malformed_body", 'the body must be {"IDs": ["<ID>", ...]} or {}')
    if not data:
        return None
    ids = next(iter(data.values()))
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise Problem(400, "malformed_body", "IDs must be a list of message ID strings")
    return ids


async def delete_messages(request: web.Request) -> web.Response:
    ids = await _ids_to_delete(request)
    await request.app[DEVMAIL_KEY].store.delete(ids)
    return web.Response(text="ok")


async def get_message(request: web.Request) -> web.Response:
    summary = await _resolve(request)
    marked = await request.app[DEVMAIL_KEY].store.mark_read(summary.message.id)
    return web.json_response(render_message(marked or summary))


async def get_raw(request: web.Request) -> web.Response:
    summary = await _resolve(request)
    raw = await request.app[DEVMAIL_KEY].store.raw(summary.message.id)
    if raw is None:
        raise Problem(404, "message_not_found", "the message was deleted meanwhile")
    return web.Response(body=raw, content_type="text/plain", charset="utf-8")


async def get_headers(request: web.Request) -> web.Response:
    return web.json_response(render_headers(await _resolve(request)))


async def get_part(request: web.Request) -> web.Response:
    summary = await _resolve(request)
    raw = await request.app[DEVMAIL_KEY].store.raw(summary.message.id)
    found = part_bytes(raw, request.match_info["part"]) if raw is not None else None
    if found is None:
        raise Problem(404, "part_not_found", f"no part {request.match_info['part']}")
    content_type, file_name, payload = found
    response = web.Response(body=payload, content_type=content_type)
    if file_name:
        response.headers["Content-Disposition"] = _attachment_disposition(file_name)
    return response


def _attachment_disposition(file_name: str) -> str:
    return f"attachment; filename*=UTF-8''{quote(file_name)}"


async def info(request: web.Request) -> web.Response:
    server = request.app[DEVMAIL_KEY]
    store = server.store
    uptime = int(time.monotonic() - server.started)
    return web.json_response(
        {
            "Version": __version__,
            "Messages": len(store),
            "Unread": store.unread,
            "Retention": store.max_messages,
            "Evicted": store.counters.evicted,
            "SMTPAccepted": server.stats.accepted,
            "SMTPRejected": server.stats.rejected,
            "Uptime": uptime,
            "Database": server.config.db_path or "",
            "LatestVersion": "",
            "Tags": {},
            "LastSeq": store.last_seq,
            "Subscribers": len(server.websockets),
            "Waiting": store.waiting,
            "RuntimeStats": {
                "Uptime": uptime,
                "SMTPAccepted": server.stats.accepted,
                "SMTPAcceptedSize": server.stats.accepted_bytes,
                "SMTPRejected": server.stats.rejected,
                "MessagesDeleted": store.counters.deleted + store.counters.evicted,
            },
        }
    )


async def events(request: web.Request) -> web.WebSocketResponse:
    """Websocket of {"Type", "Data"} events; subscribed before the handshake so none is missed."""
    server = request.app[DEVMAIL_KEY]
    ws = web.WebSocketResponse(heartbeat=30)
    subscription = server.store.subscribe()
    pump: asyncio.Task[None] | None = None
    try:
        await ws.prepare(request)
        server.websockets.add(ws)
        await server._ws_changed()
        pump = asyncio.create_task(_pump_events(ws, subscription))
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
    finally:
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        subscription.close()
        server.websockets.discard(ws)
        await server._ws_changed()
    return ws


async def _pump_events(ws: web.WebSocketResponse, subscription: Subscription) -> None:
    try:
        while batch := await subscription.next_batch():
            for event in batch:
                await ws.send_json(render_event(event))
    except SubscriberLagged:
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"subscriber fell behind")
        return
    except ConnectionResetError:
        return
    await ws.close(code=WSCloseCode.GOING_AWAY, message=b"devmail is shutting down")


async def livez(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    server = request.app[DEVMAIL_KEY]
    if server.smtp is None or not server.smtp.server.is_serving():
        raise Problem(503, "not_ready", "the SMTP server is not listening")
    return web.json_response({"status": "ok", "smtp_port": server.smtp_port})


_ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("GET", "/api/v1/messages", list_messages),
    ("DELETE", "/api/v1/messages", delete_messages),
    ("GET", "/api/v1/search", search_messages),
    ("DELETE", "/api/v1/search", delete_search),
    ("GET", "/api/v1/message/{id}", get_message),
    ("GET", "/api/v1/message/{id}/raw", get_raw),
    ("GET", "/api/v1/message/{id}/headers", get_headers),
    ("GET", "/api/v1/message/{id}/part/{part}", get_part),
    ("GET", "/api/v1/info", info),
    ("GET", "/api/events", events),
    ("GET", "/livez", livez),
    ("GET", "/readyz", readyz),
]
