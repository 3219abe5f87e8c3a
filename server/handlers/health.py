"""Liveness and readiness for load balancers."""

from __future__ import annotations

from aiohttp import web

from core import db
from core.context import Context
from server.calls import call
from server.problems import problem
from server.render import json_response


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def _ping(ctx: Context) -> None:
    with db.connection():
        db.database.execute_sql("SELECT 1")


async def readyz(request: web.Request) -> web.Response:
    try:
        await call(request, _ping)
    except Exception as exc:  # any database failure means "not ready", not a 500
        return problem(503, "not_ready", "Service Unavailable", f"database: {type(exc).__name__}")
    return json_response({"status": "ok"})
