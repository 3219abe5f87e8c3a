"""Faults on demand: a real SMTP client (aiosmtplib) meets each fault, then none once lifted."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiosmtplib
import pytest

from devmail.__main__ import build_parser, config_from

from .conftest import Devmail, eventually, plain_mail

OFF = {"ErrorCode": 451, "Probability": 0}
DEFAULT = {
    "Authentication": OFF,
    "Sender": OFF,
    "Recipient": OFF,
    "Data": OFF,
    "Disconnect": {"Stage": "Data", "Probability": 0},
    "Latency": {"Stage": "Data", "Milliseconds": 0, "Probability": 100},
    "Seed": None,
}


async def put_chaos(devmail: Devmail, body: dict[str, Any] | None) -> dict[str, Any]:
    response = await devmail.client.put("/api/v1/chaos", json=body)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    assert answer == await devmail.json("/api/v1/chaos")
    return answer


async def stored(devmail: Devmail) -> int:
    return int((await devmail.json("/api/v1/info"))["Messages"])


async def test_chaos_shape_and_reset(devmail: Devmail) -> None:
    assert await devmail.json("/api/v1/chaos") == DEFAULT
    answer = await put_chaos(devmail, {"Sender": {"ErrorCode": 421, "Probability": 5}})
    assert answer == {**DEFAULT, "Sender": {"ErrorCode": 421, "Probability": 5}}
    # As in Mailpit, what a PUT leaves out is reset.
    answer = await put_chaos(devmail, {"Recipient": {"ErrorCode": 550, "Probability": 10}})
    assert answer["Sender"] == OFF and answer["Recipient"]["Probability"] == 10
    assert await put_chaos(devmail, None) == DEFAULT
    for bad in (
        {"Sender": {"ErrorCode": 250, "Probability": 5}},
        {"Sender": {"ErrorCode": 451, "Probability": 101}},
        {"Disconnect": {"Stage": "QUIT", "Probability": 5}},
        {"Latency": {"Milliseconds": -1}},
        {"Seed": -5},
    ):
        response = await devmail.client.put("/api/v1/chaos", json=bad)
        assert response.status == 400, bad


@pytest.mark.parametrize(
    ("stage", "code", "error"),
    [
        ("Sender", 451, aiosmtplib.SMTPSenderRefused),
        ("Recipient", 550, aiosmtplib.SMTPRecipientsRefused),
        ("Data", 452, aiosmtplib.SMTPDataError),
    ],
)
async def test_error_at_each_stage_then_delivery_once_lifted(
    devmail: Devmail, stage: str, code: int, error: type[Exception]
) -> None:
    await put_chaos(devmail, {stage: {"ErrorCode": code, "Probability": 100}})
    with pytest.raises(error) as refused:
        await devmail.send(plain_mail())
    text = str(refused.value)
    assert str(code) in text or code in getattr(refused.value, "code", ()), text
    if isinstance(refused.value, aiosmtplib.SMTPRecipientsRefused):
        assert refused.value.recipients[0].code == code
    else:
        assert refused.value.code == code  # type: ignore[attr-defined]
    assert await stored(devmail) == 0
    assert (await devmail.json("/api/v1/info"))["SMTPRejected"] == 1

    await put_chaos(devmail, {})
    await devmail.send(plain_mail())
    assert await stored(devmail) == 1


async def test_authentication_error(make_devmail: Any) -> None:
    devmail = await make_devmail(auth=True)
    await put_chaos(devmail, {"Authentication": {"ErrorCode": 454, "Probability": 100}})
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
        await devmail.send(plain_mail(), username="app", password="secret")
    assert refused.value.code == 454
    await put_chaos(devmail, {})
    await devmail.send(plain_mail(), username="app", password="secret")
    assert await stored(devmail) == 1


@pytest.mark.parametrize("stage", ["Connect", "Sender", "Recipient", "Data"])
async def test_dropped_connection_at_each_stage(devmail: Devmail, stage: str) -> None:
    await put_chaos(devmail, {"Disconnect": {"Stage": stage, "Probability": 100}})
    with pytest.raises((aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError)):
        await devmail.send(plain_mail(), timeout=10)
    assert await stored(devmail) == 0
    await put_chaos(devmail, {})
    await devmail.send(plain_mail())
    assert await stored(devmail) == 1


async def test_latency_is_added_at_the_chosen_stage(devmail: Devmail) -> None:
    await put_chaos(devmail, {"Latency": {"Stage": "Recipient", "Milliseconds": 400}})
    started = time.monotonic()
    await devmail.send(plain_mail())
    assert time.monotonic() - started >= 0.4
    await put_chaos(devmail, {})
    started = time.monotonic()
    await devmail.send(plain_mail())
    assert time.monotonic() - started < 0.4
    assert await stored(devmail) == 2


async def test_a_client_that_gives_up_on_a_held_answer_leaves_nothing_stored(
    devmail: Devmail,
) -> None:
    """Latency at Data holds the answer; a client that times out and hangs up meanwhile has
    given up on the mail, as a relay does before retrying. (A client that hangs up without
    chaos holding anything still gets every reply: tests/devmail/test_smtp_wire.py.)"""
    await put_chaos(devmail, {"Latency": {"Stage": "Data", "Milliseconds": 800}})
    with pytest.raises(aiosmtplib.SMTPTimeoutError):
        await devmail.send(plain_mail(), timeout=0.2)
    assert await eventually(lambda: devmail.server.stats.connected == 0)
    await asyncio.sleep(1)  # past the held answer: a message stored late would show now
    assert await stored(devmail) == 0


async def outcomes(devmail: Devmail, count: int) -> list[bool]:
    """Send `count` mails over one connection; True for each the server accepted."""
    results = []
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=devmail.smtp_port) as smtp:
        for _ in range(count):
            try:
                await smtp.send_message(plain_mail())
                results.append(True)
            except aiosmtplib.SMTPSenderRefused:
                results.append(False)
    return results


async def test_a_seed_makes_the_share_repeatable(devmail: Devmail) -> None:
    triggers = {"Sender": {"ErrorCode": 451, "Probability": 50}, "Seed": 7}
    await put_chaos(devmail, triggers)
    first = await outcomes(devmail, 30)
    await put_chaos(devmail, triggers)  # setting the triggers restarts the draws
    assert await outcomes(devmail, 30) == first
    assert 5 < first.count(False) < 25
    assert await stored(devmail) == 2 * first.count(True)


def test_start_flags_set_the_same_triggers() -> None:
    args = build_parser().parse_args(
        [
            "--chaos-triggers", "Sender:451:50,rcpt:550:100",
            "--chaos-disconnect", "data:5",
            "--chaos-latency", "250:Recipient:20",
            "--chaos-seed", "3",
        ]
    )  # fmt: skip
    triggers = config_from(args).chaos
    assert triggers is not None
    assert (triggers.Sender.ErrorCode, triggers.Sender.Probability) == (451, 50)
    assert (triggers.Recipient.ErrorCode, triggers.Recipient.Probability) == (550, 100)
    assert triggers.Data.Probability == 0
    assert (triggers.Disconnect.Stage, triggers.Disconnect.Probability) == ("Data", 5)
    assert (triggers.Latency.Stage, triggers.Latency.Milliseconds) == ("Recipient", 250)
    assert (triggers.Latency.Probability, triggers.Seed) == (20, 3)
    assert config_from(build_parser().parse_args([])).chaos is None


@pytest.mark.parametrize(
    "argv",
    [
        ["--chaos-triggers", "Sender:250:5"],
        ["--chaos-triggers", "Quit:451:5"],
        ["--chaos-triggers", "Sender:451"],
        ["--chaos-disconnect", "Data"],
        ["--chaos-latency", "fast"],
        ["--chaos-seed", "-1"],
    ],
)
def test_bad_chaos_flags_are_refused(argv: list[str]) -> None:
    with pytest.raises(ValueError):
        config_from(build_parser().parse_args(argv))


async def test_start_flags_reach_the_smtp_server(make_devmail: Any) -> None:
    args = build_parser().parse_args(["--chaos-triggers", "Data:554:100"])
    devmail = await make_devmail(chaos=config_from(args).chaos)
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await devmail.send(plain_mail())
    assert refused.value.code == 554
