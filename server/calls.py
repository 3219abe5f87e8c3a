"""The one way a handler reaches core: sync service functions run in a thread pool, never on the
event loop, but for the one measured exception, GET /api/me/'s indexed read on SQLite
(`read_batched`). Functions that hash passwords run in their own pool, sized to the cores, so a
storm of logins saturates the CPU without making cheap reads like /api/me wait behind it. Each
call runs in a copy of the caller's context (run_in_executor does not copy it), so the request
id follows the work into the pool threads: their log lines and the mail they enqueue carry it."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from core import db
from core.context import Context
from server.batcher import Batcher
from server.keys import CONTEXT, DB_POOL, HASH_POOL, SENDER

K = TypeVar("K")
T = TypeVar("T")


def context(request: web.Request) -> Context:
    return request.app[CONTEXT]


async def call(request: web.Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a core function (database work) in the database pool."""
    loop = asyncio.get_running_loop()
    work = functools.partial(fn, context(request), *args, **kwargs)
    return await loop.run_in_executor(request.app[DB_POOL], contextvars.copy_context().run, work)


async def read_batched(
    request: web.Request, batcher: Batcher[K, T], fn: Callable[[Context, K], T], key: K
) -> T:
    """A short indexed read that concurrent requests share. On SQLite `fn` runs right here on the
    loop, read-only (core.db.read_on_event_loop: cheaper than the executor hop around it,
    docs/performance.md); on PostgreSQL `batcher` runs the keys of concurrent requests as one
    statement in one executor hop (server.batcher)."""
    if db.is_sqlite():
        with db.read_on_event_loop():
            return fn(context(request), key)
    return await batcher.read(key)


async def call_hashing(request: web.Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a core function that hashes or verifies a password in the hashing pool."""
    loop = asyncio.get_running_loop()
    work = functools.partial(fn, context(request), *args, **kwargs)
    return await loop.run_in_executor(request.app[HASH_POOL], contextvars.copy_context().run, work)


def mail_enqueued(request: web.Request) -> None:
    """Tell this process's sender to look at the outbox now rather than at its next poll."""
    request.app[SENDER].wake()
