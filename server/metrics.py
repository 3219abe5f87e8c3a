"""Prometheus metrics (prometheus-client): requests by route pattern and status, mail outcomes by
flow, and the outbox backlog read from the database at scrape time, so every instance reports the
same backlog however many there are.

`GET /metrics` exists only with ACCTKIT_METRICS=on and answers only clients in
ACCTKIT_METRICS_ALLOW (the client address as server.clientip resolves it, so a request relayed by a
trusted proxy is judged by its real origin, not by the proxy's loopback address).

With `acctkit serve --workers N` the workers share prometheus-client's multiprocess directory
(set up by server.serve), and any worker's scrape adds up all of them.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from core import backlog

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Metrics:
    """This process's counters, in a registry of their own (one per app, so tests stay apart)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "acctkit_http_requests",
            "HTTP requests answered, by route pattern and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "acctkit_http_request_duration_seconds",
            "Time to answer an HTTP request, by route pattern and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.mail_sent = Counter(
            "acctkit_mail_sent", "Mails accepted by the SMTP server", ["flow"], registry=r
        )
        self.mail_failures = Counter(
            "acctkit_mail_failures", "Failed delivery attempts (retried)", ["flow"], registry=r
        )
        self.mail_expired = Counter(
            "acctkit_mail_expired",
            "Mails given up because what they carry expired",
            ["flow"],
            registry=r,
        )
        self.smtp_up = Gauge(
            "acctkit_smtp_up",
            "1 when this process's last contact with the SMTP server worked, else 0",
            registry=r,
            multiprocess_mode="min",
        )

    def mail_outcome(self, flow: str, sent: bool) -> None:
        (self.mail_sent if sent else self.mail_failures).labels(flow=flow).inc()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = {"method": method, "route": route, "status": str(status)}
        self.requests.labels(**labels).inc()
        self.latency.labels(**labels).observe(seconds)


class _BacklogCollector:
    """The backlog as gauges, from numbers read (off the loop) just before the scrape."""

    def __init__(self, stats: backlog.Stats) -> None:
        self.stats = stats

    def collect(self):  # type: ignore[no-untyped-def]
        s = self.stats
        queued = GaugeMetricFamily(
            "acctkit_outbox_backlog", "Unsent mail still being retried", labels=["state"]
        )
        queued.add_metric(["pending"], s.pending - s.failing)
        queued.add_metric(["failing"], s.failing)
        yield queued
        yield GaugeMetricFamily(
            "acctkit_outbox_expired", "Mail given up (expired) and kept for inspection", s.expired
        )
        yield GaugeMetricFamily(
            "acctkit_outbox_oldest_pending_age_seconds",
            "Age of the oldest unsent mail still being retried",
            s.oldest_pending_age,
        )


def route_label(request: web.Request) -> str:
    """The route's pattern (`/api/users/{id}/avatar`), never the raw path: bounded label values."""
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    return resource.canonical


def middleware(metrics: Metrics) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.observe(
                request.method, route_label(request), status, time.perf_counter() - started
            )

    return measure


def allowed(address: str, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


def exposition(metrics: Metrics, stats: backlog.Stats, multiprocess_dir: str) -> bytes:
    if multiprocess_dir:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=multiprocess_dir)
        own = generate_latest(registry)
    else:
        own = generate_latest(metrics.registry)
    extra = CollectorRegistry(auto_describe=False)
    extra.register(_BacklogCollector(stats))  # type: ignore[arg-type]
    return own + generate_latest(extra)


CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
