"""GET /metrics: Prometheus text for the addresses in ACCTKIT_METRICS_ALLOW (registered only with
ACCTKIT_METRICS=on, so it is a plain 404 otherwise)."""

from __future__ import annotations

from aiohttp import web

from core import backlog
from server import metrics
from server.calls import call
from server.clientip import client_ip
from server.keys import METRICS, SETTINGS


async def scrape(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    if not metrics.allowed(client_ip(request, settings), settings.metrics_allow):
        raise web.HTTPForbidden(text="Metrics are not served to this address.")
    stats = await call(request, backlog.stats)
    body = metrics.exposition(request.app[METRICS], stats, settings.metrics_multiprocess_dir)
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})
