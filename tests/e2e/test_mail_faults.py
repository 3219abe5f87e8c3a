"""The outbox through every fault devmail can play (its chaos API), end to end.

The real service (its outbox sender and SMTP transport, a real clock) mails a real devmail on
ephemeral ports. A fault is switched on over `PUT /api/v1/chaos` at probability 100 (no draw, so
nothing is random), mail is made by real flows (signups and a password reset, each answered 2xx),
the test sees each mail refused and retried while the fault lasts, then lifts the fault and sees
every mail in devmail exactly once (by Message-ID, and by X-Acctkit-Ref + Seq) and every outbox
row `sent`.

How the sender treats the answers (core/outbox.py `record`, core/smtp.py):
- a 4xx, a 5xx, a dropped connection or a timeout are all retried with backoff. A 5xx is
  "permanent" to SMTP, but the flow that made the mail has already answered 2xx, so dropping the
  mail would lose it silently: it is retried until what it carries expires and then marked
  `expired` with the relay's last answer (`acctkit outbox` and the metrics show it);
- a 421, a refused or dropped connection and a timeout mean the relay, not the mail, is at fault:
  the sender marks SMTP down, probes it, and sends the whole backlog as soon as it answers.

Latency past the client's timeout at the end of DATA: the sender hangs up after its timeout and
devmail (aiosmtpd cancels the transaction when its client goes) keeps nothing, so the mail goes out
once. A relay that commits a message before answering could keep a copy whose "250" the sender
never saw (RFC 1047); the sender then sends it again under the same Message-ID (kept in the outbox
row), so a receiver can tell the copy from a second mail. Exactly-once beyond that is not
something SMTP offers.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from core import db
from core.models import Outbox
from server.app import create_app
from tests.conftest import make_settings
from tests.devmail.conftest import Devmail, MakeDevmail

PASSWORD = "correct horse battery staple"
OWNER = {
    "first_name": "Olive",
    "last_name": "Owner",
    "username": "olive",
    "email": "olive@example.com",
    "password": PASSWORD,
}

FAULTS = {
    "451-at-MAIL": {"Sender": {"ErrorCode": 451, "Probability": 100}},
    "452-at-RCPT": {"Recipient": {"ErrorCode": 452, "Probability": 100}},
    "451-at-DATA": {"Data": {"ErrorCode": 451, "Probability": 100}},
    "554-at-DATA": {"Data": {"ErrorCode": 554, "Probability": 100}},
    "550-at-RCPT": {"Recipient": {"ErrorCode": 550, "Probability": 100}},
    "421-at-MAIL": {"Sender": {"ErrorCode": 421, "Probability": 100}},
    "dropped-at-connect": {"Disconnect": {"Stage": "Connect", "Probability": 100}},
    "dropped-at-DATA": {"Disconnect": {"Stage": "Data", "Probability": 100}},
    "slower-than-timeout-at-MAIL": {
        "Latency": {"Stage": "Sender", "Milliseconds": 1600, "Probability": 100}
    },
    "slower-than-timeout-at-DATA": {
        "Latency": {"Stage": "Data", "Milliseconds": 1600, "Probability": 100}
    },
}
# What each fault leaves in the outbox row's last_error while it lasts.
TRACES = {
    "451-at-MAIL": "451",
    "452-at-RCPT": "452",
    "451-at-DATA": "451",
    "554-at-DATA": "554",
    "550-at-RCPT": "550",
    "421-at-MAIL": "421",
    "dropped-at-connect": "Disconnected",
    "dropped-at-DATA": "Disconnected",
    "slower-than-timeout-at-MAIL": "timed out",
    "slower-than-timeout-at-DATA": "timed out",
}


async def _service(aiohttp_client: Any, database_url: str, devmail: Devmail, **changes: Any):
    """The service as deployed, but with a 1 s relay timeout and a 1 s backoff cap, so a retry
    comes about every second and the test stays short."""
    settings = make_settings(
        database_url,
        smtp_url=f"smtp://127.0.0.1:{devmail.smtp_port}",
        smtp_timeout=1,
        mail_backoff_cap=1,
        **changes,
    )
    return await aiohttp_client(create_app(settings, mail_poll_interval=0.05))


async def _chaos(devmail: Devmail, triggers: dict[str, Any]) -> None:
    response = await devmail.client.put("/api/v1/chaos", json=triggers)
    assert response.status == 200, await response.text()


async def _messages(devmail: Devmail) -> list[dict[str, Any]]:
    response = await devmail.client.get("/api/v1/messages", params={"limit": "1000"})
    assert response.status == 200
    return (await response.json())["messages"]


async def _latest(devmail: Devmail, to: str) -> dict[str, Any]:
    params = {"query": f"to:{to}", "wait": "10"}
    response = await devmail.client.get("/api/v1/message/latest", params=params)
    assert response.status == 200, await response.text()
    return await response.json()


def _rows() -> list[Outbox]:
    with db.connection():
        return list(Outbox.select().order_by(Outbox.id))


async def _rows_until(predicate: Any, timeout: float, what: str) -> list[Outbox]:
    deadline = time.monotonic() + timeout
    while True:
        rows = await asyncio.to_thread(_rows)
        if predicate(rows):
            return rows
        assert time.monotonic() < deadline, f"timed out waiting for {what}: " + ", ".join(
            f"{r.flow}/{r.status}/{r.attempts}/{r.last_error}" for r in rows
        )
        await asyncio.sleep(0.05)


async def _owner(service: TestClient, devmail: Devmail) -> None:
    """A verified account, made before any fault, so a reset has someone to mail."""
    started = await service.post("/api/auth/signup/", json=OWNER)
    assert started.status == 202, await started.text()
    signup_id = (await started.json())["signup_id"]
    (code,) = (await _latest(devmail, OWNER["email"]))["Codes"]
    verified = await service.post(
        "/api/auth/signup/verify/", json={"signup_id": signup_id, "code": code}
    )
    assert verified.status == 201, await verified.text()


async def _flows_under_fault(service: TestClient) -> None:
    """Three signups and a reset request, each answered 2xx while the relay misbehaves."""
    for i in range(3):
        body = {**OWNER, "username": f"user{i}", "email": f"user{i}@example.com"}
        response = await service.post("/api/auth/signup/", json=body)
        assert response.status == 202, await response.text()
    response = await service.post("/api/auth/password/reset/", json={"email": OWNER["email"]})
    assert response.status == 202, await response.text()


def _exactly_once(rows: list[Outbox], messages: list[dict[str, Any]]) -> None:
    ids = Counter(m["MessageID"] for m in messages)
    refs = Counter((m["Flow"], m["Ref"], m["RefSeq"]) for m in messages)
    for row in rows:
        assert ids[row.message_id.strip("<>")] == 1, (row.flow, row.ref, ids)
        assert refs[(row.flow, row.ref, row.seq)] == 1, (row.flow, row.ref, refs)
    assert len(messages) == len(rows)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """The test's database. Asked for before `aiohttp_client`, so the PostgreSQL schema
    outlives the app: its outbox sender must not poll a dropped schema while it stops."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path}/acctkit.db"


@pytest.mark.parametrize(
    ("fault", "database_url"),
    [
        *((name, "sqlite") for name in FAULTS),
        pytest.param("554-at-DATA", "postgres", marks=pytest.mark.postgres),
        pytest.param("dropped-at-connect", "postgres", marks=pytest.mark.postgres),
    ],
    indirect=["database_url"],
)
async def test_every_mail_is_delivered_once_after_the_fault_is_lifted(
    database_url: str,
    aiohttp_client: Any,
    make_devmail: MakeDevmail,
    fault: str,
) -> None:
    url = database_url
    devmail = await make_devmail()
    service = await _service(aiohttp_client, url, devmail)
    await _owner(service, devmail)
    before = len(await asyncio.to_thread(_rows))

    await _chaos(devmail, FAULTS[fault])
    await _flows_under_fault(service)
    # Every new mail is refused and retried (a second attempt at least), none is given up.
    under_fault = await _rows_until(
        lambda rows: len(rows) == before + 4 and all(r.attempts >= 2 for r in rows[before:]),
        15,
        "a second attempt of every mail",
    )
    for row in under_fault[before:]:
        assert row.status == "pending", (row.flow, row.status, row.last_error)
        assert TRACES[fault] in (row.last_error or ""), row.last_error
    assert len(await _messages(devmail)) == before  # only the owner's mail got through

    await _chaos(devmail, {})
    rows = await _rows_until(
        lambda rows: all(r.status == "sent" for r in rows), 15, "every mail sent"
    )
    await asyncio.sleep(0.3)  # a late duplicate, if the sender made one, would show up now
    messages = await _messages(devmail)
    _exactly_once(rows, messages)
    assert Counter(m["Flow"] for m in messages) == {"signup": 4, "password-reset": 1}


async def test_a_5xx_is_retried_until_the_code_expires_then_expired_with_the_relays_answer(
    aiohttp_client: Any, make_devmail: MakeDevmail, sqlite_url: str
) -> None:
    """A relay's 554 never drops a mail whose flow answered 2xx: it stays pending while its code
    lives and ends `expired`, keeping the 554, once the code is dead; nothing goes out after."""
    devmail = await make_devmail()
    service = await _service(aiohttp_client, sqlite_url, devmail, code_ttl=3)
    await _chaos(devmail, FAULTS["554-at-DATA"])
    response = await service.post("/api/auth/signup/", json=OWNER)
    assert response.status == 202

    pending = await _rows_until(lambda rows: rows and rows[0].attempts >= 2, 10, "a retried 554")
    assert pending[0].status == "pending" and "554" in pending[0].last_error
    (expired,) = await _rows_until(lambda rows: rows[0].status != "pending", 10, "the mail to end")
    assert expired.status == "expired"
    assert "554" in expired.last_error and "devmail chaos" in expired.last_error
    assert expired.sent_at is None

    await _chaos(devmail, {})
    await asyncio.sleep(1.5)  # a retry, if one were still scheduled, would come within a second
    assert await _messages(devmail) == []
    (row,) = await asyncio.to_thread(_rows)
    assert row.status == "expired"
