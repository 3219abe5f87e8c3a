"""GET /metrics: off by default, Prometheus text for allowed addresses only, routes by pattern."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from server.app import create_app
from tests.conftest import Inbox, make_settings
from tests.server.support import problem, sign_up


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float | None:  # type: ignore[type-arg]
    return found.get((name, frozenset(labels.items())))


async def test_metrics_are_off_by_default(client: Any) -> None:
    await problem(await client.get("/metrics"), 404, "not_found")


async def test_metrics_count_requests_by_route_pattern_and_mail_by_flow(
    make_client: Any, inbox: Inbox
) -> None:
    client = await make_client(metrics=True)
    await sign_up(client, inbox, "alice")
    assert (await client.get("/api/users/4242/avatar")).status == 404
    assert (await client.get("/nowhere/at/all")).status == 404
    for _ in range(300):  # the sender records its outcome just after the SMTP server has it
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        found = samples(await response.text())
        if value(found, "acctkit_mail_sent_total", flow="signup"):
            break
        await asyncio.sleep(0.05)
    assert value(found, "acctkit_mail_sent_total", flow="signup") == 1
    ok = {"method": "POST", "route": "/api/auth/signup/", "status": "202"}
    assert value(found, "acctkit_http_requests_total", **ok) == 1
    assert value(found, "acctkit_http_request_duration_seconds_count", **ok) == 1
    avatar = {"method": "GET", "route": "/api/users/{id}/avatar", "status": "404"}
    assert value(found, "acctkit_http_requests_total", **avatar) == 1
    assert not any("4242" in str(labels) for _, labels in found)
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(found, "acctkit_http_requests_total", **unmatched) == 1
    assert value(found, "acctkit_outbox_backlog", state="pending") == 0
    assert value(found, "acctkit_outbox_backlog", state="failing") == 0
    assert value(found, "acctkit_outbox_oldest_pending_age_seconds") == 0
    assert value(found, "acctkit_smtp_up") == 1


async def test_an_unreachable_relay_shows_as_backlog_and_failures(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    settings = make_settings(sqlite_url, metrics=True, smtp_url="smtp://127.0.0.1:1")
    client = await aiohttp_client(create_app(settings, mail_poll_interval=0.05))
    signup = {
        "first_name": "A",
        "last_name": "B",
        "username": "alice",
        "email": "alice@example.com",
        "password": "rabbit-hole-2026",
    }
    assert (await client.post("/api/auth/signup/", json=signup)).status == 202
    # The backlog is read from the database before the counters: a scrape can see the first
    # failure counted and its row not yet committed as failing. Wait for both.
    for _ in range(300):
        found = samples(await (await client.get("/metrics")).text())
        if value(found, "acctkit_mail_failures_total", flow="signup") and value(
            found, "acctkit_outbox_backlog", state="failing"
        ):
            break
        await asyncio.sleep(0.05)
    # At least one failed attempt (a retry may have come and failed too on a slow machine).
    assert (value(found, "acctkit_mail_failures_total", flow="signup") or 0) >= 1
    assert value(found, "acctkit_outbox_backlog", state="failing") == 1
    assert value(found, "acctkit_smtp_up") == 0
    assert (value(found, "acctkit_outbox_oldest_pending_age_seconds") or 0) > 0


async def test_metrics_answer_only_allowed_addresses(make_client: Any) -> None:
    client = await make_client(metrics=True, metrics_allow=("10.0.0.0/8",))
    await problem(await client.get("/metrics"), 403, "forbidden")


async def test_a_request_relayed_by_a_trusted_proxy_is_judged_by_its_origin(
    make_client: Any,
) -> None:
    client = await make_client(metrics=True, trusted_proxies=("127.0.0.1",))
    outside = {"X-Forwarded-For": "203.0.113.9"}
    await problem(await client.get("/metrics", headers=outside), 403, "forbidden")
    inside = {"X-Forwarded-For": "127.0.0.1"}
    assert (await client.get("/metrics", headers=inside)).status == 200
