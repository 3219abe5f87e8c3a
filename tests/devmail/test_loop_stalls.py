"""A big message does not stop devmail's one loop: its content is read, measured, un-stuffed
and handed to a parser process a window at a time, while other connections keep delivering.

Before, a 20 MB attachment held the loop for about 120 ms at the end of DATA (the whole
content split into lines, un-stuffed, and copied twice), and prose whose lines end in a dot
was read one line per call. How a stall is confirmed is in tests/stalls.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import aiosmtplib
import pytest

from devmail.message import Envelope
from tests.stalls import StallMonitor, confirmed, debug_loop

from .conftest import Devmail, MakeDevmail, code_mail

MB = 1024 * 1024


def _big_attachment() -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@x.test", "big@x.test", "attachment"
    message.set_content("the export is attached")
    message.add_attachment(
        bytes(range(256)) * (20 * MB // 256),
        maintype="application",
        subtype="octet-stream",
        filename="export.bin",
    )
    return message.as_bytes(policy=SMTP)  # CRLF, as it goes over the wire


def _big_prose() -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@x.test", "prose@x.test", "prose"
    line = "Every line of this letter ends in a full stop, as prose does.\n"
    message.set_content(line * (8 * MB // len(line)))
    return message.as_bytes(policy=SMTP)  # CRLF, as it goes over the wire


async def _deliver(port: int, big: list[bytes], small: int) -> None:
    """On the test's own loop in another thread: only devmail's loop is watched (and the
    messages are built before it is)."""

    async def one_by_one(messages: list[bytes]) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60) as smtp:
            for raw in messages:
                await smtp.sendmail("a@x.test", ["to@x.test"], raw)

    small_mail = code_mail().as_bytes()
    await asyncio.gather(one_by_one(big), one_by_one([small_mail] * small))


async def test_big_messages_beside_small_ones_never_block_the_loop(
    make_devmail: MakeDevmail, monitor: StallMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    big = [_big_attachment(), _big_prose()]
    devmail = await make_devmail(parsers=1)  # as `python -m devmail` on two cores
    debug_loop()
    monitor.watched = threading.get_ident()
    caplog.clear()
    await asyncio.to_thread(asyncio.run, _deliver(devmail.smtp_port, big, small=200))
    listing = await devmail.json("/api/v1/search", query="subject:attachment")
    (summary,) = listing["messages"]
    assert summary["Attachments"] == 1 and summary["Size"] == len(big[0])
    # Downloading the attachment parses the whole message again: beside the loop too.
    part = devmail.client.make_url(f"/api/v1/message/{summary['ID']}/part/2")
    attachment = await asyncio.to_thread(_download, str(part))
    assert attachment == bytes(range(256)) * (20 * MB // 256)
    # Reading the 8 MB of prose: its JSON is encoded beside the loop too.
    (prose,) = (await devmail.json("/api/v1/search", query="subject:prose"))["messages"]
    url = devmail.client.make_url(f"/api/v1/message/{prose['ID']}")
    whole = json.loads(await asyncio.to_thread(_download, str(url)))
    assert whole["Text"] == big[1].split(b"\r\n\r\n", 1)[1].decode().replace("\r\n", "\n")
    assert confirmed(monitor, caplog) == []
    info = await devmail.json("/api/v1/info")
    assert info["Messages"] == 202


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _many_headers(count: int) -> bytes:
    head = b"From: a@x.test\r\nTo: many@x.test\r\nSubject: many headers\r\n"
    extra = b"".join(b"X-H%d: =?utf-8?q?v=C3=A9_%d?=\r\n" % (n, n) for n in range(count))
    return head + extra + b"\r\ncode 123456\r\n"


async def test_reading_a_message_with_thousands_of_headers_never_blocks_the_loop(
    devmail: Devmail, monitor: StallMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    """Headers are decoded on first read: 100,000 of them held the loop for 3.5 s."""
    await devmail.send(_many_headers(20_000), recipients=["many@x.test"])
    (found,) = (await devmail.json("/api/v1/messages"))["messages"]
    debug_loop()
    monitor.watched = threading.get_ident()
    caplog.clear()
    base = str(devmail.client.make_url(f"/api/v1/message/{found['ID']}"))
    message, headers = await asyncio.to_thread(
        lambda: (json.loads(_download(base)), json.loads(_download(base + "/headers")))
    )
    assert confirmed(monitor, caplog) == []
    assert message["Headers"] == headers
    assert headers["X-H19999"] == ["vé 19999"] and len(headers) == 20_000 + 3


async def test_the_first_search_after_a_big_html_mail_never_blocks_the_loop(
    devmail: Devmail, monitor: StallMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    """Search reads what the HTML part shows; it was worked out on the loop at the first
    search after the mail came: 1.3 s for 5 MB of HTML. The parser works it out now."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@x.test", "html@x.test", "html"
    message.set_content("see the HTML part")
    html = "<p>Your link: <b>open</b> it.</p>\n" * 60_000 + "<p>needle <i>in</i> a haystack</p>"
    message.add_alternative(html, subtype="html")
    await devmail.send(message)
    debug_loop()
    monitor.watched = threading.get_ident()
    caplog.clear()
    found = await devmail.json("/api/v1/search", query='"needle in a"')
    assert confirmed(monitor, caplog) == []
    assert [m["Subject"] for m in found["messages"]] == ["html"]


async def test_sending_a_big_mail_over_http_never_blocks_the_loop(
    devmail: Devmail, monitor: StallMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    """POST /api/v1/send built the message (base64, MIME) on the loop: 0.3 s for 8 MB."""
    content = bytes(range(256)) * (8 * MB // 256)
    body = {
        "From": {"Email": "a@x.test"},
        "To": [{"Email": "sent@x.test"}],
        "Subject": "sent over HTTP",
        "Text": "see attached\n" * 10_000,
        "Attachments": [{"Content": base64.b64encode(content).decode(), "Filename": "x.bin"}],
    }
    request = urllib.request.Request(
        str(devmail.client.make_url("/api/v1/send")),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    debug_loop()
    monitor.watched = threading.get_ident()
    caplog.clear()
    answer = await asyncio.to_thread(lambda: json.loads(urllib.request.urlopen(request).read()))
    assert confirmed(monitor, caplog) == []
    part = await asyncio.to_thread(
        _download, str(devmail.client.make_url(f"/api/v1/message/{answer['ID']}/part/2"))
    )
    assert part == content


async def test_a_full_mailbox_is_listed_searched_and_emptied_without_blocking_the_loop(
    devmail: Devmail, monitor: StallMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    """10,000 messages (the default --max): waiting for a mail that is not there looked at all
    of them at once, listing the newest 50 built all 10,000 summaries, a page of all of them
    was shaped on the loop (0.2 s), and emptying the mailbox removed them in one step."""
    store = devmail.server.store
    template = "From: a@x.test\r\nTo: r{n}@x.test\r\nSubject: mail {n}\r\n\r\ncode {n:06d}\r\n"
    for n in range(10_000):
        await store.add(template.format(n=n).encode(), Envelope("a@x.test", (f"r{n}@x.test",)))
    await asyncio.sleep(0)  # storing never waited: end this step before the watch begins
    debug_loop()
    monitor.watched = threading.get_ident()
    caplog.clear()

    def read(path: str, method: str = "GET", body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        url = str(devmail.client.make_url(path))
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
            return json.loads(body) if method == "GET" else body

    def missing(path: str) -> int:
        try:
            read(path)
        except urllib.error.HTTPError as refused:
            return refused.code
        return 200

    def session() -> list[Any]:
        return [
            missing("/api/v1/message/latest?query=to:nobody@x.test"),
            missing("/api/v1/message/latest?query=to:nobody@x.test&wait=0.2"),
            read("/api/v1/messages"),
            read("/api/v1/search?query=subject:mail&start=100&limit=10"),
            read("/api/v1/messages?limit=10000"),
            read("/api/v1/messages", "PUT", {"Read": True}),
            read("/api/v1/messages", "DELETE", {}),
        ]

    nothing, nothing_yet, newest, searched, everything, marked, emptied = await asyncio.to_thread(
        session
    )
    assert confirmed(monitor, caplog) == []
    assert (nothing, nothing_yet) == (404, 404)
    assert (newest["messages_count"], newest["count"]) == (10_000, 50)
    assert newest["messages"][0]["Subject"] == "mail 9999"
    assert (searched["messages_count"], searched["messages_unread"]) == (10_000, 10_000)
    assert [m["Subject"] for m in searched["messages"]] == [f"mail {9899 - n}" for n in range(10)]
    assert len(everything["messages"]) == 10_000
    assert (marked, emptied) == (b"ok", b"ok")
    assert len(store) == 0
