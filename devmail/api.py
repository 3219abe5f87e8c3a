"""The HTTP side: Mailpit's API v1 (paths and PascalCase fields) plus devmail's extensions.

This module only sets the app up; handlers live in devmail.handlers (messages) and
devmail.admin (everything around them), the JSON shapes in contract.mailpit. The SMTP server
is started in a cleanup_ctx on this same loop, so one process and one thread serve both
protocols and a test can run the whole catcher under `aiohttp_client`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import WSCloseCode, web

from devmail import admin, handlers, refusal, shapes
from devmail.chaos import Chaos
from devmail.config import Config
from devmail.parsers import ParserPool
from devmail.problems import problems
from devmail.rebinding import host_guard
from devmail.server import DEVMAIL_KEY, DevmailServer
from devmail.smtp import start_smtp
from devmail.store import Store

__all__ = ["DEVMAIL_KEY", "DevmailServer", "create_app"]

log = logging.getLogger(__name__)

# The largest body any route takes (a /send with attachments); JSON bodies are typed and
# bounded field by field in contract.mailpit.
MAX_BODY_BYTES = 16 * 1024 * 1024


def create_app(config: Config) -> web.Application:
    refusal.install()  # requests that are not HTTP: a problem document, one log line
    app = web.Application(
        middlewares=[problems, *host_guard(config.host, config.allowed_hosts)],
        client_max_size=MAX_BODY_BYTES,
    )
    app[DEVMAIL_KEY] = DevmailServer(
        config=config,
        store=Store(
            max_messages=config.max_messages,
            db_path=config.db_path,
            event_frame=shapes.event_frame,
            parsers=ParserPool(config.parsers) if config.parsers else None,
        ),
        chaos=Chaos(config.chaos),
    )
    app.cleanup_ctx.append(_run_smtp_and_store)
    app.on_shutdown.append(_release_waiters)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
        if not path.endswith((".html", ".txt")):
            app.router.add_route(method, path + "/", handler)
    return app


async def _run_smtp_and_store(app: web.Application) -> AsyncIterator[None]:
    server = app[DEVMAIL_KEY]
    await server.store.open()
    try:
        server.smtp = await start_smtp(server.config, server.store, server.stats, server.chaos)
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


ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("GET", "/api/v1/messages", handlers.list_messages),
    ("PUT", "/api/v1/messages", handlers.set_read),
    ("DELETE", "/api/v1/messages", handlers.delete_messages),
    ("GET", "/api/v1/search", handlers.search_messages),
    ("DELETE", "/api/v1/search", handlers.delete_search),
    ("GET", "/api/v1/message/{id}", handlers.get_message),
    ("GET", "/api/v1/message/{id}/raw", handlers.get_raw),
    ("GET", "/api/v1/message/{id}/headers", handlers.get_headers),
    ("GET", "/api/v1/message/{id}/part/{part}", handlers.get_part),
    ("GET", "/view/{id}.html", handlers.view_html),
    ("GET", "/view/{id}.txt", handlers.view_text),
    ("GET", "/api/v1/tags", admin.get_tags),
    ("PUT", "/api/v1/tags", admin.set_tags),
    ("PUT", "/api/v1/tags/{tag}", admin.rename_tag),
    ("DELETE", "/api/v1/tags/{tag}", admin.delete_tag),
    ("GET", "/api/v1/chaos", admin.get_chaos),
    ("PUT", "/api/v1/chaos", admin.set_chaos),
    ("POST", "/api/v1/send", admin.send),
    ("GET", "/api/v1/info", admin.info),
    ("GET", "/api/events", admin.events),
    ("GET", "/livez", admin.livez),
    ("GET", "/readyz", admin.readyz),
]
