"""Liveness and readiness for load balancers."""

from __future__ import annotations

from aiohttp import web

from contract import accounts
from core import db, errors
from core.context import Context
from server.calls import call


async def healthz(request: web.Request) -> accounts.Status:
    return accounts.Status(status="ok")


def _ping(ctx: Context) -> None:
    with db.connection():
        db.database.execute_sql("SELECT 1")


async def readyz(request: web.Request) -> accounts.Status:
    try:
        await call(request, _ping)
    except Exception as exc:  # any database failure means "not ready", not a 500
        raise errors.NotReady(f"database: {type(exc).__name__}") from None
    return accounts.Status(status="ok")
