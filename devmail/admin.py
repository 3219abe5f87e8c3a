"""Handlers of the routes around the messages: info, events, health, tags, chaos, send."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from urllib.parse import urlsplit

import msgspec
from aiohttp import WSCloseCode, WSMsgType, hdrs, web

from contract import mailpit
from devmail import __version__
from devmail.compose import ComposeError, compose
from devmail.events import SubscriberLagged, Subscription
from devmail.problems import Problem, json_response, read_body
from devmail.server import DEVMAIL_KEY


async def info(request: web.Request) -> web.Response:
    server = request.app[DEVMAIL_KEY]
    store = server.store
    uptime = int(time.monotonic() - server.started)
    return json_response(
        mailpit.Info(
            Version=__version__,
            Messages=len(store),
            Unread=store.unread,
            Retention=store.max_messages,
            Evicted=store.counters.evicted,
            SMTPAccepted=server.stats.accepted,
            SMTPRejected=server.stats.rejected,
            Uptime=uptime,
            Database=server.config.db_path or "",
            LatestVersion="",
            Tags=store.tag_counts(),
            LastSeq=store.last_seq,
            Subscribers=len(server.websockets),
            Waiting=store.waiting,
            RuntimeStats=mailpit.RuntimeStats(
                Uptime=uptime,
                SMTPAccepted=server.stats.accepted,
                SMTPAcceptedSize=server.stats.accepted_bytes,
                SMTPRejected=server.stats.rejected,
                MessagesDeleted=store.counters.deleted + store.counters.evicted,
                # Peak resident set size (Linux reports KiB); Mailpit reports memory in bytes.
                Memory=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            ),
        )
    )


def _from_elsewhere(request: web.Request) -> bool:
    """A browser's handshake from a page of another origin.

    A websocket is not held back by the same-origin policy the way a fetch of the JSON API is:
    without this, any web page the developer opened could read every code and link devmail
    catches. Browsers always send Origin on a websocket handshake; the TUI and scripts send
    none, and devmail's own pages would send their own origin."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return False
    found = urlsplit(origin)
    return found.scheme not in ("http", "https") or found.netloc.lower() != request.host.lower()


async def events(request: web.Request) -> web.WebSocketResponse:
    """Websocket of {"Type", "Data"} events; subscribed before the handshake so none is missed."""
    if _from_elsewhere(request):
        raise Problem(403, "cross_origin", "a page of another origin may not read devmail's events")
    server = request.app[DEVMAIL_KEY]
    ws = web.WebSocketResponse(heartbeat=30)
    subscription = server.store.subscribe()
    pump: asyncio.Task[None] | None = None
    try:
        await ws.prepare(request)
        server.websockets.add(ws)
        await server.websockets_changed()
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
        await server.websockets_changed()
    return ws


async def _pump_events(ws: web.WebSocketResponse, subscription: Subscription) -> None:
    try:
        while batch := await subscription.next_batch():
            for frame in batch:
                await ws.send_str(frame)
    except SubscriberLagged:
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"subscriber fell behind")
        return
    except ConnectionResetError:
        return
    await ws.close(code=WSCloseCode.GOING_AWAY, message=b"devmail is shutting down")


async def livez(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    server = request.app[DEVMAIL_KEY]
    if server.smtp is None or not server.smtp.server.is_serving():
        raise Problem(503, "not_ready", "the SMTP server is not listening")
    return json_response({"status": "ok", "smtp_port": server.smtp_port})


# --- tags ------------------------------------------------------------------------------------


async def get_tags(request: web.Request) -> web.Response:
    return json_response(list(request.app[DEVMAIL_KEY].store.tag_counts()))


async def set_tags(request: web.Request) -> web.Response:
    body = await read_body(request, mailpit.SetTagsRequest)
    await request.app[DEVMAIL_KEY].store.set_tags(body.IDs, body.Tags)
    return web.Response(text="ok")


def _tag_in_path(request: web.Request) -> str:
    try:
        return msgspec.convert(request.match_info["tag"], type=mailpit.TagName)
    except msgspec.ValidationError:
        raise Problem(404, "tag_not_found", "no such tag") from None


async def rename_tag(request: web.Request) -> web.Response:
    old = _tag_in_path(request)
    body = await read_body(request, mailpit.RenameTagRequest)
    await request.app[DEVMAIL_KEY].store.rename_tag(old, body.Name)
    return web.Response(text="ok")


async def delete_tag(request: web.Request) -> web.Response:
    await request.app[DEVMAIL_KEY].store.delete_tag(_tag_in_path(request))
    return web.Response(text="ok")


# --- chaos and send --------------------------------------------------------------------------


async def get_chaos(request: web.Request) -> web.Response:
    return json_response(request.app[DEVMAIL_KEY].chaos.triggers)


async def set_chaos(request: web.Request) -> web.Response:
    """Mailpit's PUT /api/v1/chaos: every trigger left out is reset to off."""
    body = await read_body(request, mailpit.ChaosTriggers, empty=mailpit.ChaosTriggers())
    return json_response(request.app[DEVMAIL_KEY].chaos.set(body))


async def send(request: web.Request) -> web.Response:
    """Mailpit's POST /api/v1/send: a test injects a mail over HTTP; answers {"ID": ...}."""
    body = await read_body(request, mailpit.SendRequest)
    try:
        # Building the message (base64 and MIME for up to 16 MB of attachments) took a third
        # of a second for a big one: beside the loop.
        raw, envelope = await asyncio.to_thread(compose, body)
    except ComposeError as exc:
        raise Problem(400, "invalid_message", str(exc)) from None
    stored = await request.app[DEVMAIL_KEY].store.add(raw, envelope, tuple(body.Tags))
    return json_response(mailpit.SendResult(ID=stored.message.id))
