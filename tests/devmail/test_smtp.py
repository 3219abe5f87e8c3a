"""The SMTP side with real clients: smtplib (in a thread) and aiosmtplib."""

from __future__ import annotations

import asyncio
import hashlib
import os
import smtplib
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from .conftest import Devmail, MakeDevmail, code_mail, plain_mail


def smtplib_send(
    port: int,
    raw: bytes | str,
    sender: str,
    rcpt: list[str],
    options: tuple[str, ...] = (),
    login: tuple[str, str] | None = None,
) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo("tester.example")
        if login:
            client.login(*login)
        client.sendmail(sender, rcpt, raw, mail_options=list(options))


async def test_a_mail_the_stdlib_cannot_take_apart_is_kept_not_refused(devmail: Devmail) -> None:
    """RFC 2231 pieces mixed up (`boundary*` and `boundary*0`) make the stdlib raise TypeError.
    devmail answered 451 to every try (a relay retries, then bounces it) and logged a traceback
    each time; it now keeps the mail with its body as text, as it keeps any odd mail."""
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: odd params\r\n"
        b"Content-Type: multipart/alternative; boundary*=a; boundary*0=b\r\n\r\n"
        b"Your code is 271828\r\n"
    )
    await devmail.send(raw)
    message = await devmail.json("/api/v1/message/latest")
    assert message["Subject"] == "odd params" and message["Codes"] == ["271828"]
    assert message["Text"] == "Your code is 271828\n"
    raw_back = await devmail.client.get("/api/v1/message/latest/raw")
    assert await raw_back.read() == raw


async def test_smtputf8_and_8bitmime(devmail: Devmail) -> None:
    raw = (
        "From: Zo\u00eb <zo\u00eb@exampl\u00e9.com>\r\nTo: j\u00f6rg@b\u00fccher.de\r\n"
        "Subject: Gr\u00fc\u00dfe, code inside\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Dein Code lautet 314159. Sch\u00f6nen Tag \u2603\r\n"
    ).encode()
    await asyncio.to_thread(
        smtplib_send,
        devmail.smtp_port,
        raw,
        "zo\u00eb@exampl\u00e9.com",
        ["j\u00f6rg@b\u00fccher.de"],
        ("SMTPUTF8", "BODY=8BITMIME"),
    )
    message = await devmail.json("/api/v1/message/latest")
    assert message["Subject"] == "Gr\u00fc\u00dfe, code inside"
    assert message["From"] == {"Name": "Zo\u00eb", "Address": "zo\u00eb@exampl\u00e9.com"}
    assert message["Envelope"] == {
        "MailFrom": "zo\u00eb@exampl\u00e9.com",
        "RcptTo": ["j\u00f6rg@b\u00fccher.de"],
    }
    assert message["EnvelopeMismatch"] is False
    assert message["Text"] == "Dein Code lautet 314159. Sch\u00f6nen Tag \u2603\n"
    assert message["Codes"] == ["314159"]
    raw_back = await devmail.client.get("/api/v1/message/latest/raw")
    assert await raw_back.read() == raw


async def test_encodings_through_aiosmtplib(devmail: Devmail) -> None:
    message = EmailMessage()
    message["From"] = "=?utf-8?q?S=C3=A9bastien?= <seb@example.com>"
    message["To"] = "Ren\u00e9e <renee@example.com>"
    message["Subject"] = "R\u00e9sum\u00e9 \u2014 verification code"
    message.set_content("Verification code: 080808 \u2014 merci\n", cte="quoted-printable")
    message.add_alternative(
        '<p>Code <strong>080808</strong>, <a href="https://x.test/go?a=1&amp;b=2">go</a></p>',
        subtype="html",
        cte="base64",
    )
    message.add_attachment(bytes(range(256)) * 4, maintype="image", subtype="png", filename="a.png")
    await devmail.send(message)
    got = await devmail.json("/api/v1/message/latest")
    assert got["From"] == {"Name": "S\u00e9bastien", "Address": "seb@example.com"}
    assert got["To"] == [{"Name": "Ren\u00e9e", "Address": "renee@example.com"}]
    assert got["Subject"] == "R\u00e9sum\u00e9 \u2014 verification code"
    assert got["Text"] == "Verification code: 080808 \u2014 merci\n"
    assert got["HTML"].startswith("<p>Code <strong>080808</strong>")
    assert got["Codes"] == ["080808"]
    assert got["Links"] == ["https://x.test/go?a=1&b=2"]
    assert [(a["FileName"], a["Size"]) for a in got["Attachments"]] == [("a.png", 1024)]


async def test_ten_mib_message(devmail: Devmail) -> None:
    payload = os.urandom(10 * 1024 * 1024)
    message = plain_mail(subject="big")
    message.add_attachment(payload, maintype="application", subtype="octet-stream", filename="b")
    await devmail.send(message, timeout=60)
    got = await devmail.json("/api/v1/message/latest")
    assert got["Attachments"][0]["Size"] == len(payload)
    part = await devmail.client.get(f"/api/v1/message/{got['ID']}/part/2")
    assert hashlib.sha256(await part.read()).digest() == hashlib.sha256(payload).digest()
    raw = await devmail.client.get(f"/api/v1/message/{got['ID']}/raw")
    assert len(await raw.read()) == got["Size"] > 10 * 1024 * 1024


async def test_oversized_message_is_refused_and_counted(make_devmail: MakeDevmail) -> None:
    devmail = await make_devmail(max_message_bytes=20_000)
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await devmail.send(_big_mail(40_000))
    assert refused.value.code == 552
    await devmail.send(_big_mail(5_000))
    info = await devmail.json("/api/v1/info")
    assert (info["Messages"], info["SMTPAccepted"], info["SMTPRejected"]) == (1, 1, 1)


def _big_mail(size: int) -> EmailMessage:
    return plain_mail(body=("y" * 70 + "\n") * (size // 71))


async def test_thousand_messages_from_ten_concurrent_clients(make_devmail: MakeDevmail) -> None:
    devmail = await make_devmail(max_messages=0)

    async def client(number: int) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=devmail.smtp_port) as smtp:
            for n in range(100):
                await smtp.send_message(plain_mail(f"c{number}@example.com", f"{number}-{n}"))

    await asyncio.gather(*(client(i) for i in range(10)))
    listing = await devmail.json("/api/v1/messages", limit=5000)
    assert listing["total"] == 1000
    assert {m["Subject"] for m in listing["messages"]} == {
        f"{c}-{n}" for c in range(10) for n in range(100)
    }
    assert sorted(m["Seq"] for m in listing["messages"]) == list(range(1, 1001))
    # Each connection's mails keep their order.
    for c in range(10):
        mine = [m for m in reversed(listing["messages"]) if m["Subject"].startswith(f"{c}-")]
        assert [m["Subject"] for m in mine] == [f"{c}-{n}" for n in range(100)]
    assert (await devmail.json("/api/v1/info"))["SMTPAccepted"] == 1000


async def test_auth_accepts_any_credentials(make_devmail: MakeDevmail) -> None:
    devmail = await make_devmail(auth=True)
    await devmail.send(plain_mail(subject="aio"), username="who", password="ever")
    await asyncio.to_thread(
        smtplib_send,
        devmail.smtp_port,
        plain_mail(subject="sync").as_string(),
        "s@example.com",
        ["bob@example.com"],
        (),
        ("another", "pass word"),
    )
    subjects = [m["Subject"] for m in (await devmail.json("/api/v1/messages"))["messages"]]
    assert subjects == ["sync", "aio"]


async def test_without_auth_flag_auth_is_not_offered(
    devmail: Devmail, caplog: pytest.LogCaptureFixture
) -> None:
    """aiosmtpd listed AUTH anyway, and a login failed with a 500 quoting a TypeError."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=devmail.smtp_port) as smtp:
        assert smtp.supports_extension("pipelining")
        assert not smtp.supports_extension("auth")
        code, message = await smtp.execute_command(b"AUTH", b"PLAIN", b"AHdobwBldmVy")
        assert code == 502 and "--auth" in message, message
        assert "AUTH" not in (await smtp.help()).split(), "HELP lists only what is offered"
    with pytest.raises(aiosmtplib.SMTPException, match="AUTH"):
        await devmail.send(plain_mail(), username="who", password="ever")
    assert (await devmail.json("/api/v1/info"))["Messages"] == 0
    assert not [r for r in caplog.records if r.exc_info], caplog.text


async def test_with_auth_flag_auth_is_offered(make_devmail: MakeDevmail) -> None:
    devmail = await make_devmail(auth=True)
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=devmail.smtp_port) as smtp:
        assert smtp.supports_extension("auth")
        assert set(smtp.server_auth_methods) == {"plain", "login"}
        assert "AUTH" in (await smtp.help()).split()


async def test_envelope_mismatch(devmail: Devmail) -> None:
    # Header says alice, envelope delivers to mallory: the classic wrong-recipient bug.
    await devmail.send(code_mail("alice@example.com"), recipients=["mallory@example.com"])
    # Bcc kept in the header: the envelope matches.
    bcc = plain_mail("bob@example.com", "bcc")
    bcc["Bcc"] = "audit@example.com"
    raw = bcc.as_bytes()
    await devmail.send(raw, recipients=["bob@example.com", "AUDIT@example.com"])
    # One transaction per recipient of a two-recipient header: normal, no mismatch.
    split = plain_mail("bob@example.com, carol@example.com", "split")
    await devmail.send(split, recipients=["carol@example.com"])
    listing = (await devmail.json("/api/v1/messages"))["messages"]
    flags = {m["Subject"]: (m["EnvelopeMismatch"], m["Envelope"]["RcptTo"]) for m in listing}
    assert flags == {
        "Your acctkit code: 042917": (True, ["mallory@example.com"]),
        "bcc": (False, ["bob@example.com", "AUDIT@example.com"]),
        "split": (False, ["carol@example.com"]),
    }
    found = await devmail.json("/api/v1/search", query="to:mallory@example.com")
    assert [m["Subject"] for m in found["messages"]] == ["Your acctkit code: 042917"]


@pytest.mark.parametrize("on_disk", [False, True], ids=["memory", "db"])
async def test_an_envelope_that_is_not_utf8_is_stored_readably(
    make_devmail: MakeDevmail, tmp_path: Path, on_disk: bool
) -> None:
    """aiosmtpd keeps such bytes (after SMTPUTF8) as surrogate escapes. With --db the message
    was refused (451, a traceback in the log, each retry the same); in memory it was stored and
    then every listing and search was a 500 until it was deleted."""
    devmail = await make_devmail(db_path=str(tmp_path / "devmail.db") if on_disk else None)
    raw = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: latin-1 envelope\r\n\r\nhi\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", devmail.smtp_port)
    writer.write(
        b"EHLO x\r\nMAIL FROM:<j\xf6rg@example.com> SMTPUTF8\r\nRCPT TO:<\xc3@example.com>\r\n"
        b"DATA\r\n" + raw + b".\r\nQUIT\r\n"
    )
    replies = (await asyncio.wait_for(reader.read(), 10)).splitlines()
    writer.close()
    assert [line[:3] for line in replies if line[3:4] == b" "][-3:] == [b"354", b"250", b"221"]
    listing = await devmail.json("/api/v1/messages")
    (summary,) = listing["messages"]
    assert summary["Envelope"] == {
        "MailFrom": "j\ufffdrg@example.com",
        "RcptTo": ["\ufffd@example.com"],
    }
    assert (await devmail.json("/api/v1/search", query="from:rg@example"))["messages_count"] == 1
    raw_back = await devmail.client.get(f"/api/v1/message/{summary['ID']}/raw")
    assert await raw_back.read() == raw
