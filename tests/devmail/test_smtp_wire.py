"""SMTP on the wire, byte for byte: pipelining and devmail's own DATA reader."""

from __future__ import annotations

import asyncio

import pytest
from aiosmtpd.smtp import SMTP

from devmail.session import PipelinedSMTP

from .conftest import Devmail, MakeDevmail


async def _replies(reader: asyncio.StreamReader, count: int) -> list[bytes]:
    """The last line of each of `count` (possibly multi-line) replies."""
    got = []
    while len(got) < count:
        line = await asyncio.wait_for(reader.readline(), 10)
        assert line, f"connection closed after {got}"
        if line[3:4] != b"-":
            got.append(line)
    return got


async def _converse(port: int, script: bytes, replies: int) -> tuple[bytes, list[bytes]]:
    """Send the whole script in one write (after the greeting); the EHLO reply and the rest."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await _replies(reader, 1)
        writer.write(b"EHLO wire.test\r\n")
        ehlo = b""
        while (line := await reader.readline())[3:4] == b"-":
            ehlo += line
        writer.write(script)
        return ehlo + line, await _replies(reader, replies)
    finally:
        writer.close()


def _envelope(to: str) -> bytes:
    return f"MAIL FROM:<a@wire.test>\r\nRCPT TO:<{to}>\r\nDATA\r\n".encode()


async def _raw(devmail: Devmail, to: str) -> bytes:
    listing = await devmail.json("/api/v1/search", query=f"to:{to}")
    assert listing["messages_count"] == 1, listing
    response = await devmail.client.get(f"/api/v1/message/{listing['messages'][0]['ID']}/raw")
    return await response.read()


async def test_pipelining_is_offered_and_a_whole_batch_in_one_write_is_stored(
    devmail: Devmail,
) -> None:
    body = b"Subject: %d\r\n\r\ncode %06d\r\n.\r\n"
    script = b"".join(_envelope(f"p{n}@wire.test") + body % (n, n) for n in range(3))
    ehlo, replies = await _converse(devmail.smtp_port, script + b"QUIT\r\n", 3 * 4 + 1)
    assert b"250-PIPELINING\r\n" in ehlo
    assert ehlo.endswith(b"250 HELP\r\n")
    codes = [r[:3] for r in replies]
    assert codes == [b"250", b"250", b"354", b"250"] * 3 + [b"221"]
    for n in range(3):
        assert await _raw(devmail, f"p{n}@wire.test") == b"Subject: %d\r\n\r\ncode %06d\r\n" % (
            n,
            n,
        )


async def test_dot_stuffing_and_lines_ending_in_a_dot(devmail: Devmail) -> None:
    sent = b"..starts with a dot\r\nends with a dot.\r\n...\r\nx.\r\n.\r\nQUIT\r\n"
    # What the sender meant: each stuffed leading dot removed, nothing else touched.
    meant = b".starts with a dot\r\nends with a dot.\r\n..\r\nx.\r\n"
    _, replies = await _converse(devmail.smtp_port, _envelope("dots@wire.test") + sent, 5)
    assert [r[:3] for r in replies] == [b"250", b"250", b"354", b"250", b"221"]
    assert await _raw(devmail, "dots@wire.test") == meant


async def test_empty_content_and_a_stuffed_lone_dot(devmail: Devmail) -> None:
    script = _envelope("empty@wire.test") + b".\r\n" + _envelope("lone@wire.test")
    script += b"..\r\n.\r\nQUIT\r\n"
    _, replies = await _converse(devmail.smtp_port, script, 9)
    assert [r[:3] for r in replies] == [b"250", b"250", b"354", b"250"] * 2 + [b"221"]
    assert await _raw(devmail, "empty@wire.test") == b""
    assert await _raw(devmail, "lone@wire.test") == b".\r\n"


async def test_too_long_a_line_is_refused_after_the_content_and_the_session_goes_on(
    devmail: Devmail,
) -> None:
    script = _envelope("long@wire.test") + b"Subject: x\r\n\r\n" + b"y" * 1000 + b"\r\n.\r\n"
    script += _envelope("short@wire.test") + b"y" * 998 + b"\r\n.\r\nQUIT\r\n"
    _, replies = await _converse(devmail.smtp_port, script, 9)
    assert replies[3].startswith(b"500 Line too long")
    assert [r[:3] for r in replies[4:]] == [b"250", b"250", b"354", b"250", b"221"]
    assert await _raw(devmail, "short@wire.test") == b"y" * 998 + b"\r\n"
    info = await devmail.json("/api/v1/info")
    assert info["Messages"] == 1


async def test_too_much_data_split_over_many_reads_is_refused(make_devmail: MakeDevmail) -> None:
    devmail = await make_devmail(max_message_bytes=100_000)
    # Past the stream reader's 64 KiB window without a line ending in a dot.
    big = (b"z" * 78 + b"\r\n") * 2000
    script = _envelope("big@wire.test") + big + b".\r\n" + _envelope("fits@wire.test")
    script += big[:80_000] + b".\r\nQUIT\r\n"
    _, replies = await _converse(devmail.smtp_port, script, 9)
    assert replies[3].startswith(b"552")
    assert [r[:3] for r in replies[4:]] == [b"250", b"250", b"354", b"250", b"221"]
    assert await _raw(devmail, "fits@wire.test") == big[:80_000]


SMTP_PATHS = [
    "<a@b.test>",
    "<a@b.test> SIZE=1000 BODY=8BITMIME",
    "<a@b.test>  SMTPUTF8",
    "<first.last+tag@sub.example.com>",
    "<o'brien{x}@example.com>",
    "<a..b@example.com>",
    "<.a@example.com>",
    "<a@-b.test>",
    "<a@b.test>junk",
    "<a@b.test> (comment) SIZE=1",
    '<"quoted local"@example.com>',
    "<j\u00f6rg@b\u00fccher.de>",
    "<@relay.test:a@b.test>",
    "<>",
    "<a@b.test",
    "a@b.test",
    "<" + "x" * 70 + "@b.test>",
    "<a@[127.0.0.1]>",
]


@pytest.mark.parametrize("path", SMTP_PATHS)
async def test_addresses_read_as_aiosmtpd_reads_them(path: str) -> None:
    session = PipelinedSMTP(object())
    assert session._getaddr(path) == SMTP._getaddr(session, path)
