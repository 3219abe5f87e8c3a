"""Parser processes: they answer exactly what the loop would, and no mail is lost to them."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import pytest

from devmail.parse import parse
from devmail.parsers import ParserPool
from devmail.store import INLINE_PARSE_LIMIT

from .conftest import Devmail, MakeDevmail, code_mail, eventually, plain_mail


def _attachments() -> bytes:
    message = EmailMessage()
    message["Subject"] = "files"
    message.set_content("see attached, code 123456 to verify")
    message.add_alternative(
        '<p>logo <img src="cid:logo1"> <a href="https://x.test/a">a</a></p>', subtype="html"
    )
    message.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="data.csv")
    return message.as_bytes()


def _large() -> bytes:
    message = plain_mail(subject="large")
    message.add_attachment(os.urandom(INLINE_PARSE_LIMIT), maintype="application", subtype="zip")
    return message.as_bytes()


# What the workers must agree with the loop on: mail of every shape devmail sees.
CORPUS = [
    code_mail().as_bytes(),
    plain_mail(subject="\u00e9t\u00e9 \u6f22\u5b57").as_bytes(),
    _attachments(),
    _large(),
    b"",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nno end",
    b"To: <<<@@@>>>, \r\nFrom: \r\nDate: not a date\r\n\r\n",
    b"Content-Type: text/plain; charset=x-unknown\r\n\r\nbody 1234 code\r\n",
]
# Raw 8-bit bytes in a header survive parsing as lone surrogates, which MessagePack cannot
# carry: the worker hands such a message back.
EIGHT_BIT_HEADER = b"Subject: caf\xe9 \xff code 4321\r\n\r\nbody\r\n"


@pytest.fixture
async def pool() -> AsyncIterator[ParserPool]:
    pool = ParserPool(2)
    await pool.start()
    yield pool
    await pool.close()


async def test_workers_parse_exactly_as_the_loop_does(pool: ParserPool) -> None:
    answers = await asyncio.gather(*(pool.parse(raw) for raw in CORPUS))
    assert answers == [parse(raw) for raw in CORPUS]
    assert (pool.parsed, pool.given_back) == (len(CORPUS), 0)


async def test_what_a_worker_cannot_send_back_is_handed_back(pool: ParserPool) -> None:
    assert await pool.parse(EIGHT_BIT_HEADER) is None
    assert await pool.parse(CORPUS[0]) == parse(CORPUS[0])  # still in step afterwards
    assert (pool.parsed, pool.given_back) == (1, 1)


async def test_a_dead_worker_hands_back_what_it_held(pool: ParserPool) -> None:
    for pid in pool.pids:
        os.kill(pid, signal.SIGSTOP)
    asked = [asyncio.ensure_future(pool.parse(raw)) for raw in CORPUS]
    await asyncio.sleep(0.1)
    assert not any(future.done() for future in asked)
    for pid in pool.pids:
        os.kill(pid, signal.SIGKILL)
    assert await asyncio.wait_for(asyncio.gather(*asked), 10) == [None] * len(CORPUS)
    assert pool.live == 0
    assert await pool.parse(CORPUS[0]) is None


async def _messages(devmail: Devmail) -> list[dict[str, object]]:
    listing = await devmail.json("/api/v1/messages", limit=100)
    return listing["messages"]  # type: ignore[no-any-return]


async def test_one_connection_is_parsed_in_place(make_devmail: MakeDevmail) -> None:
    devmail = await make_devmail(parsers=1)
    for n in range(3):
        await devmail.send(plain_mail(subject=f"alone {n}"))
    pool = devmail.server.store.parsers
    assert pool is not None and pool.parsed == 0
    assert len(await _messages(devmail)) == 3


async def test_several_connections_are_parsed_by_the_workers(make_devmail: MakeDevmail) -> None:
    devmail = await make_devmail(parsers=1)
    idle = aiosmtplib.SMTP(hostname="127.0.0.1", port=devmail.smtp_port, start_tls=False)
    await idle.connect()
    try:
        for n in range(3):
            await devmail.send(code_mail(to=f"crowd{n}@example.com", code=f"10000{n}", ref=f"r{n}"))
    finally:
        await idle.quit()
    pool = devmail.server.store.parsers
    assert pool is not None and pool.parsed == 3
    found = await devmail.json("/api/v1/message/latest", query="to:crowd2@example.com")
    assert found["Codes"] == ["100002"]


async def test_no_mail_is_lost_when_a_worker_dies(make_devmail: MakeDevmail) -> None:
    devmail = await make_devmail(parsers=1)
    pool = devmail.server.store.parsers
    assert pool is not None
    for pid in pool.pids:
        os.kill(pid, signal.SIGSTOP)
    sends = [
        asyncio.ensure_future(
            devmail.send(plain_mail(to=f"held{n}@example.com", subject=f"held {n}"))
        )
        for n in range(6)
    ]
    assert await eventually(lambda: pool.in_hand >= 2)
    for pid in pool.pids:
        os.kill(pid, signal.SIGKILL)
    await asyncio.wait_for(asyncio.gather(*sends), 30)
    subjects = sorted(str(message["Subject"]) for message in await _messages(devmail))
    assert subjects == [f"held {n}" for n in range(6)]
    assert pool.given_back >= 2 and pool.live == 0
