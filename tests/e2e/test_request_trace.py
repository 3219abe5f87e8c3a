"""A request id rides from the HTTP request into the service's log lines (also those logged in
executor threads), the outbox row and the mail (X-Acctkit-Request-ID), over real SMTP to devmail."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp.test_utils import TestClient

from tests.devmail.conftest import Devmail
from tests.e2e.live import Live, live

__all__ = ["live"]

SIGNUP = {
    "first_name": "Trace",
    "last_name": "Able",
    "username": "traceable",
    "email": "trace@example.com",
    "password": "rabbit-hole-2026",
}


async def test_a_signups_request_id_reaches_its_mail_and_every_log_line(
    service: TestClient, devmail: Devmail, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await service.post(
        "/api/auth/signup/", json=SIGNUP, headers={"X-Request-ID": "trace-0042"}
    )
    assert response.status == 202 and response.headers["X-Request-ID"] == "trace-0042"
    headers = await devmail.json(
        "/api/v1/message/latest/headers", query="to:trace@example.com", wait="10"
    )
    assert {k.lower(): v for k, v in headers.items()}["x-acctkit-request-id"] == ["trace-0042"]

    queued = [r for r in caplog.records if r.getMessage().startswith("mail queued")]
    assert queued, "the enqueue was not logged"
    assert all(r.request_id == "trace-0042" for r in queued)  # type: ignore[attr-defined]
    assert all(r.threadName.startswith(("acctkit-db", "acctkit-login")) for r in queued)
    # The sender, working outside any request, logs a mail's outcome under its request's id.
    for _ in range(200):  # the sender records the outcome just after devmail has the mail
        sent = [r for r in caplog.records if r.getMessage().startswith("mail sent")]
        if sent:
            break
        await asyncio.sleep(0.02)
    assert sent and all(r.request_id == "trace-0042" for r in sent)  # type: ignore[attr-defined]
    assert all(r.threadName.startswith("acctkit-mail") for r in sent)
    # ... and a line that belongs to no request says so rather than borrowing an id.
    unrelated = logging.getLogger("acctkit.test").makeRecord(
        "acctkit.test", 20, "", 0, "x", (), None
    )
    assert unrelated.request_id == "-"  # type: ignore[attr-defined]


async def test_without_a_client_id_the_generated_one_is_carried(
    service: TestClient, devmail: Devmail
) -> None:
    response = await service.post("/api/auth/signup/", json=SIGNUP)
    assert response.status == 202
    generated = response.headers["X-Request-ID"]
    headers = await devmail.json(
        "/api/v1/message/latest/headers", query="to:trace@example.com", wait="10"
    )
    values = {k.lower(): v for k, v in headers.items()}["x-acctkit-request-id"]
    assert values == [generated] and len(generated) == 32


async def test_the_access_log_line_names_the_request_id(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp writes it after the request's context has ended; it still says which request."""
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with live.http.get(live.url + "/healthz", headers={"X-Request-ID": "probe-9"}) as r:
        assert r.status == 200
    access = [r for r in caplog.records if r.name == "aiohttp.access"]
    assert [r.request_id for r in access] == ["probe-9"]  # type: ignore[attr-defined]
