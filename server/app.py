"""The application factory. Nothing happens at import; everything with a lifetime (the database,
the thread pools, the outbox sender) is set up and torn down in cleanup contexts."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from core import authentication, db, request_id, schema
from core.checkpoint import Checkpointer
from core.clock import Clock
from core.context import Context
from core.outbox import Transport
from core.settings import Settings
from core.smtp import SmtpTransport
from server import accesslog, cors, hashing, headers, metrics, problems
from server.batcher import Batcher
from server.handlers import metrics as metrics_handler
from server.keys import CONTEXT, DB_POOL, HASH_POOL, ME_READS, METRICS, SENDER, SETTINGS
from server.metrics import Metrics
from server.openapi import document_route
from server.problems import problem_middleware, request_id_middleware
from server.route import register
from server.routes import ROUTES
from server.sender import OutboxSender

DB_THREADS = 8


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
    mail_poll_interval: float = 1.0,
    hash_slots: hashing.Slots | None = None,
) -> web.Application:
    """Build the service. `settings` must carry a secret key (see core.secret); `hash_slots`
    is the semaphore `serve --workers N` shares among its workers (server.hashing)."""
    accesslog.install()  # aiohttp's refusals of malformed requests: one line, no traceback
    problems.install()  # and its answer to them: a problem document that quotes nothing
    request_id.install()
    measured = Metrics()
    app = web.Application(
        middlewares=[
            request_id_middleware,
            *([metrics.middleware(measured)] if settings.metrics else []),
            problem_middleware,
            cors.preflight_middleware,
        ],
        client_max_size=settings.avatar_max_bytes + 64 * 1024,
    )
    app[SETTINGS] = settings
    app[METRICS] = measured
    app[CONTEXT] = Context.create(settings, clock=clock)

    async def pools(app: web.Application) -> AsyncIterator[None]:
        app[DB_POOL] = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="acctkit-db")
        me_by_tokens = functools.partial(authentication.me_by_tokens, app[CONTEXT])
        app[ME_READS] = Batcher(me_by_tokens, app[DB_POOL], limit=authentication.BATCH_LIMIT)
        app[HASH_POOL] = hashing.callers_pool()
        argon2 = hashing.HashingPool(hash_slots)
        app[CONTEXT].passwords.run_in(argon2)
        yield
        app[HASH_POOL].shutdown(wait=True)
        app[CONTEXT].passwords.run_in(None)
        argon2.shutdown(wait=True)
        app[DB_POOL].shutdown(wait=True)

    async def database(app: web.Application) -> AsyncIterator[None]:
        db.open_database(settings.database_url, max_connections=DB_THREADS * 4)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(app[DB_POOL], schema.migrate, app[CONTEXT].clock)
        checkpointer = Checkpointer()  # SQLite's log, moved into the file off the request path
        checkpointer.start()
        yield
        await loop.run_in_executor(app[DB_POOL], checkpointer.stop)
        await loop.run_in_executor(app[DB_POOL], db.close_database)

    async def sender(app: web.Application) -> AsyncIterator[None]:
        mailer = transport or SmtpTransport(
            settings.smtp_url, settings.mail_from, timeout=settings.smtp_timeout
        )
        app[SENDER] = OutboxSender(
            app[CONTEXT], mailer, poll_interval=mail_poll_interval, metrics=app[METRICS]
        )
        app[SENDER].start()
        yield
        await app[SENDER].stop()

    app.cleanup_ctx.extend([pools, database, sender])
    app.on_response_prepare.extend([headers.protect, cors.add_cors_headers])
    register(app, [*ROUTES, document_route(ROUTES, settings)])
    if settings.metrics:
        app.router.add_get("/metrics", metrics_handler.scrape)
    return app
