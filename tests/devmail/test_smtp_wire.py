"""SMTP on the wire, byte for byte: pipelining and devmail's own DATA reader."""

from __future__ import annotations

import asyncio
import itertools
import logging
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP
from hypothesis import example, given, settings
from hypothesis import strategies as st

from devmail.session import PipelinedSMTP

from .conftest import Devmail, MakeDevmail, eventually


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


async def _half_closed(port: int, script: bytes) -> list[bytes]:
    """Send the whole session in one write and half-close, as `nc -N host port < file` does;
    every reply line until devmail closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(script)
        writer.write_eof()
        received = await asyncio.wait_for(reader.read(), 10)  # up to devmail's close
    finally:
        writer.close()
    return received.splitlines()


@pytest.mark.parametrize("kept_on_disk", [False, True], ids=["memory", "db"])
async def test_a_client_that_half_closes_gets_every_reply_and_its_mail_is_kept(
    make_devmail: MakeDevmail, tmp_path: Path, kept_on_disk: bool
) -> None:
    """aiosmtpd cancelled the session on EOF. Whatever it had not finished by then (with
    --db, storing the mail: the write goes to a thread) got no reply, and the mail was lost."""
    devmail = await make_devmail(db_path=str(tmp_path / "mail.db") if kept_on_disk else None)
    body = b"Subject: half\r\n\r\ncode 123456\r\n.\r\n"
    lines = await _half_closed(devmail.smtp_port, b"EHLO nc\r\n" + _envelope("h@nc.test") + body)
    codes = [line[:3] for line in lines if line[3:4] != b"-"]
    assert codes == [b"220", b"250", b"250", b"250", b"354", b"250"], lines
    assert await _raw(devmail, "h@nc.test") == b"Subject: half\r\n\r\ncode 123456\r\n"


async def test_a_port_probe_is_greeted_and_closed(devmail: Devmail) -> None:
    assert await _half_closed(devmail.smtp_port, b"") == [b"220 devmail.localhost devmail"]


async def test_a_client_that_stops_mid_message_is_closed_and_nothing_is_kept(
    devmail: Devmail,
) -> None:
    script = b"EHLO nc\r\n" + _envelope("cut@nc.test") + b"Subject: cut\r\n\r\nco"
    lines = await _half_closed(devmail.smtp_port, script)
    assert lines[-1].startswith(b"354"), lines  # nothing is said about the unfinished part
    info = await devmail.json("/api/v1/info")
    assert info["Messages"] == 0
    # The session is over, not waiting for the 5-minute timeout, and devmail serves on.
    assert await eventually(lambda: devmail.server.stats.connected == 0)
    _, replies = await _converse(devmail.smtp_port, b"QUIT\r\n", 1)
    assert replies == [b"221 Bye\r\n"]


async def test_help_names_every_verb_including_the_ones_devmail_rewrote(devmail: Devmail) -> None:
    """HELP lists the verbs that carry aiosmtpd's syntax text: DATA and QUIT had lost it."""
    _, replies = await _converse(devmail.smtp_port, b"HELP\r\nHELP DATA\r\nHELP QUIT\r\n", 3)
    verbs = replies[0].decode().removeprefix("250 Supported commands: ").split()
    assert {"DATA", "QUIT", "MAIL", "RCPT", "EHLO"} <= set(verbs), replies
    assert replies[1:] == [b"250 Syntax: DATA\r\n", b"250 Syntax: QUIT\r\n"]


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


async def _read_data(
    stream: bytes, cuts: list[int], line_limit: int, size_limit: int
) -> tuple[bytes, str | None, bytes]:
    """DATA's content read from `stream`, delivered in pieces cut at `cuts`; what is left."""
    session = PipelinedSMTP(object())  # in the running loop, which aiosmtpd takes as its own
    session.line_length_limit = line_limit
    session.data_size_limit = size_limit
    reader = asyncio.StreamReader(limit=session.line_length_limit)  # as aiosmtpd makes it
    session._reader = reader

    async def deliver() -> None:
        edges = [0, *sorted(cuts), len(stream)]
        for start, end in itertools.pairwise(edges):
            reader.feed_data(stream[start:end])
            await asyncio.sleep(0)
        reader.feed_eof()

    delivery = asyncio.create_task(deliver())
    content, error = await asyncio.wait_for(session._read_content(), 5)
    await delivery
    return content, error, await reader.read()


_PIECES = st.sampled_from(
    [b"a", b".", b"\r", b"\n", b"\r\n", b"\r\n.", b".\r\n", b"b" * 6, b"b" * 30]
)


@settings(max_examples=300, deadline=None)
# A line at the limit read up to its CR (it is not too long yet), and a CRLF split by a read.
@example(
    [b".", b"\n", b".", b".\r\n", b"\r\n", b"b" * 6, b"\r\n", b"\r\n.", b"\r\n.", b".\r\n"],
    [20, 22, 23],
    8,
    0,
)
@example([b"\r", b"\r", b"\r\n", b"\r\n", b"\r\n"], [7, 9, 9, 16], 8, 0)
@given(
    pieces=st.lists(_PIECES, max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=1200), max_size=12),
    line_limit=st.sampled_from([8, 40, 1001]),
    size_limit=st.sampled_from([0, 60, 400]),
)
def test_data_reader_agrees_with_the_rules_for_any_content_and_any_reads(
    pieces: list[bytes], cuts: list[int], line_limit: int, size_limit: int
) -> None:
    """What the sender meant comes back, the terminator is found wherever the reads fall
    (reads stop at CRLF-dot-CRLF, which can straddle two of them), nothing after it is
    consumed, and the limits are judged as on the whole content sent."""
    content = b"".join(pieces)
    if content and not content.endswith(b"\r\n"):
        content += b"\r\n"
    sent = (b"\r\n" + content).replace(b"\r\n.", b"\r\n..")[2:]
    stream = sent + b".\r\nNEXT COMMAND\r\n"
    got, error, left = asyncio.run(_read_data(stream, cuts, line_limit, size_limit))
    assert left == b"NEXT COMMAND\r\n"
    if size_limit and len(sent) > size_limit:
        assert (got, error) == (b"", "552 Error: Too much mail data")
    elif any(len(line) + 2 > line_limit for line in sent.split(b"\r\n")):
        assert (got, error) == (b"", "500 Line too long (see RFC5321 4.5.3.1.6)")
    else:
        assert (got, error) == (content, None)


async def test_content_read_as_commands_stays_out_of_the_log(
    devmail: Devmail, caplog: pytest.LogCaptureFixture
) -> None:
    """DATA refused (here no RCPT; a chaos fault does it too) and the message sent anyway: each
    line of it is read as a command, and aiosmtpd logged every one, codes and links included."""
    caplog.set_level(logging.DEBUG, logger="mail.log")
    reader, writer = await asyncio.open_connection("127.0.0.1", devmail.smtp_port)
    writer.write(
        b"EHLO x\r\nMAIL FROM:<a@wire.test>\r\nDATA\r\nSubject: Your code\r\n\r\n"
        b"Your code is 271828\r\n314159\r\nhttp://127.0.0.1:8000/reset-password/SECRETUID\r\n"
        b".\r\nQUIT\r\n"
    )
    replies = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert b"503 Error: need RCPT command" in replies
    assert "MAIL FROM:<a@wire.test>" in caplog.text, "commands are still logged"
    logged = caplog.text.upper()  # the warning about an unknown command upper-cases it
    for secret in ("271828", "314159", "SECRETUID", "YOUR CODE"):
        assert secret not in logged, caplog.text
