"""Mailpit's routes beyond reading: mark read, views, parts, tags, send."""

from __future__ import annotations

import base64

from .conftest import Devmail, code_mail, plain_mail
from .test_api import send_three


async def test_put_messages_marks_read_and_unread(devmail: Devmail) -> None:
    ids = await send_three(devmail)
    async with devmail.client.ws_connect("/api/events") as ws:
        await devmail.server.wait_websockets(1)
        response = await devmail.client.put("/api/v1/messages", json={"IDs": ids[:2], "Read": True})
        assert (response.status, await response.text()) == (200, "ok")
        updates = [await ws.receive_json(timeout=10) for _ in range(2)]
    assert {(e["Type"], e["Data"]["ID"], e["Data"]["Read"]) for e in updates} == {
        ("update", ids[0], True),
        ("update", ids[1], True),
    }
    assert (await devmail.json("/api/v1/messages"))["unread"] == 1
    await devmail.client.put("/api/v1/messages", json={"Read": True})
    assert (await devmail.json("/api/v1/messages"))["unread"] == 0
    await devmail.client.put("/api/v1/messages", json={"Search": "to:alice", "Read": False})
    unread = await devmail.json("/api/v1/search", query="is:unread")
    assert [m["ID"] for m in unread["messages"]] == [ids[0]]
    await devmail.client.put("/api/v1/messages")  # no body: all unread, as in Mailpit
    assert (await devmail.json("/api/v1/messages"))["unread"] == 3


async def test_views_of_the_html_and_text_parts(devmail: Devmail) -> None:
    await devmail.send(code_mail("alice@example.com", "042917"))
    await devmail.send(plain_mail("bob@example.com", "plain only", "just text\n"))
    plain, coded = (m["ID"] for m in (await devmail.json("/api/v1/messages"))["messages"])

    html = await devmail.client.get(f"/view/{coded}.html")
    assert html.status == 200 and html.content_type == "text/html"
    assert "<strong>042917</strong>" in await html.text()
    assert "script-src" not in html.headers["Content-Security-Policy"]
    assert "default-src 'none'" in html.headers["Content-Security-Policy"]
    text = await devmail.client.get(f"/view/{coded}.txt")
    assert (text.content_type, await text.text()) == (
        "text/plain",
        "Your verification code is 042917. It expires in 10 minutes.\n",
    )
    assert (await devmail.client.get(f"/view/{plain}.html")).status == 404
    assert await (await devmail.client.get(f"/view/{plain}.txt")).text() == "just text\n"
    assert (await devmail.client.get("/view/nope.txt")).status == 404
    latest = await devmail.client.get("/view/latest.txt", params={"query": "to:alice@"})
    assert "042917" in await latest.text()
    # Viewing is not reading (Mailpit: only the message route marks read).
    assert (await devmail.json("/api/v1/messages"))["unread"] == 2


async def test_parts_by_number(devmail: Devmail) -> None:
    await devmail.send(code_mail("alice@example.com", "042917"))
    (summary,) = (await devmail.json("/api/v1/messages"))["messages"]
    text = await devmail.client.get(f"/api/v1/message/{summary['ID']}/part/1")
    assert text.content_type == "text/plain" and "042917" in await text.text()
    html = await devmail.client.get(f"/api/v1/message/{summary['ID']}/part/2")
    assert html.content_type == "text/html"
    missing = await devmail.client.get(f"/api/v1/message/{summary['ID']}/part/9")
    assert missing.status == 404 and (await missing.json())["code"] == "part_not_found"


async def test_tags_set_list_search_rename_and_delete(devmail: Devmail) -> None:
    ids = await send_three(devmail)
    response = await devmail.client.put(
        "/api/v1/tags", json={"IDs": ids[:2], "Tags": ["signup", "Important"]}
    )
    assert (response.status, await response.text()) == (200, "ok")
    assert await devmail.json("/api/v1/tags") == ["Important", "signup"]
    listing = await devmail.json("/api/v1/messages")
    tagged = ["signup", "Important"]
    assert [m["Tags"] for m in listing["messages"]] == [[], tagged, tagged]
    assert listing["tags"] == ["Important", "signup"]
    assert (await devmail.json("/api/v1/info"))["Tags"] == {"Important": 2, "signup": 2}

    found = await devmail.json("/api/v1/search", query="tag:important")
    assert [m["ID"] for m in found["messages"]] == [ids[1], ids[0]]
    found = await devmail.json("/api/v1/search", query="-tag:signup")
    assert [m["ID"] for m in found["messages"]] == [ids[2]]
    assert (await devmail.json("/api/v1/search", query="tag:sign"))["messages_count"] == 0

    await devmail.client.put("/api/v1/tags", json={"IDs": [ids[0]]})  # no Tags: removed
    assert (await devmail.json(f"/api/v1/message/{ids[0]}"))["Tags"] == []
    await devmail.client.put("/api/v1/tags/signup", json={"Name": "welcome"})
    assert await devmail.json("/api/v1/tags") == ["Important", "welcome"]
    await devmail.client.delete("/api/v1/tags/Important")
    assert await devmail.json("/api/v1/tags") == ["welcome"]
    bad = await devmail.client.put("/api/v1/tags", json={"IDs": ids, "Tags": ["no/slash"]})
    assert bad.status == 400


async def test_tags_survive_a_restart_with_db(make_devmail, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "devmail.db")
    first = await make_devmail(db_path=db)
    await first.send(plain_mail())
    (summary,) = (await first.json("/api/v1/messages"))["messages"]
    await first.client.put("/api/v1/tags", json={"IDs": [summary["ID"]], "Tags": ["kept"]})
    await first.client.put("/api/v1/messages", json={"IDs": [summary["ID"]], "Read": True})
    await first.client.close()
    second = await make_devmail(db_path=db)
    (again,) = (await second.json("/api/v1/messages"))["messages"]
    assert (again["ID"], again["Tags"], again["Read"]) == (summary["ID"], ["kept"], True)


async def test_send_injects_a_mail_over_http(devmail: Devmail) -> None:
    body = {
        "From": {"Email": "app@example.com", "Name": "The App"},
        "To": [{"Email": "alice@example.com", "Name": "Alice"}, {"Email": "bob@example.com"}],
        "Cc": [{"Email": "carol@example.com"}],
        "Bcc": ["dan@example.com"],
        "Subject": "Your code",
        "Text": "Your verification code is 042917.",
        "HTML": "<p>Your verification code is <b>042917</b>.</p>",
        "Headers": {"X-Acctkit-Flow": "signup", "X-Acctkit-Ref": "sg_9", "X-Acctkit-Seq": "1"},
        "Tags": ["api"],
        "Attachments": [{"Content": base64.b64encode(b"hello").decode(), "Filename": "hello.txt"}],
    }
    response = await devmail.client.post("/api/v1/send", json=body)
    assert response.status == 200, await response.text()
    sent_id = (await response.json())["ID"]
    message = await devmail.json(f"/api/v1/message/{sent_id}")
    assert message["From"] == {"Name": "The App", "Address": "app@example.com"}
    assert [a["Address"] for a in message["To"]] == ["alice@example.com", "bob@example.com"]
    assert message["Envelope"]["RcptTo"] == [
        "alice@example.com", "bob@example.com", "carol@example.com", "dan@example.com"
    ]  # fmt: skip
    assert (message["Codes"], message["Flow"], message["Ref"]) == (["042917"], "signup", "sg_9")
    assert message["Tags"] == ["api"] and message["PartsMismatch"] is False
    assert [a["FileName"] for a in message["Attachments"]] == ["hello.txt"]
    for bad in (
        {"From": {"Email": "app@example.com"}},  # nobody to send to
        {"From": {"Email": "not an address"}, "To": [{"Email": "a@example.com"}]},
        {"From": {"Email": "a@example.com"}, "To": [{"Email": "b@example.com"}], "Subject": "x\ny"},
        {"To": [{"Email": "b@example.com"}]},  # no From
    ):
        response = await devmail.client.post("/api/v1/send", json=bad)
        assert response.status == 400, bad
    assert (await devmail.json("/api/v1/messages"))["total"] == 1


async def test_send_that_cannot_be_built_is_a_400_and_stores_nothing(devmail: Devmail) -> None:
    """These were 500s: the stdlib's address parser raises HeaderParseError (not a ValueError)
    for some addresses and IndexError for others, and a multipart Content-Type in Headers made
    set_content raise."""
    base = {"From": {"Email": "a@example.com"}, "To": [{"Email": "b@example.com"}], "Text": "t"}
    for change in (
        {"From": {"Email": "a@b@example.com"}},
        {"From": {"Email": "<a@example.com>"}},
        {"To": [{"Email": "b@example.com@"}]},
        {"Cc": [{"Email": "<c@example.com>"}]},
        {"ReplyTo": [{"Email": "r@x@y"}]},
        {"Bcc": ["not an address"]},
        {"Bcc": ["<d@example.com>"]},
        {"Headers": {"Reply-To": '"'}},
        {"Headers": {"Sender": '"', "X-Other": "kept"}},
        {"Headers": {"Content-Type": "multipart/mixed"}},
        {"Headers": {"Content-Type": "multipart/alternative; boundary=x"}},
    ):
        response = await devmail.client.post("/api/v1/send", json={**base, **change})
        assert response.status == 400, (change, await response.text())
        assert response.content_type == "application/problem+json"
        assert (await response.json())["code"] == "invalid_message"
    assert (await devmail.json("/api/v1/info"))["Messages"] == 0


async def test_a_part_runs_no_script_when_opened_in_a_browser(devmail: Devmail) -> None:
    """A part was served as its own type with nothing else: an SVG or HTML part opened from
    the API ran its script with devmail's origin (and so could delete every message)."""
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hostile parts\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        b"--B\r\nContent-Type: image/svg+xml\r\n\r\n"
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>fetch('/api/v1/messages',"
        b"{method:'DELETE'})</script></svg>\r\n"
        b"--B\r\nContent-Type: text/html\r\nContent-Disposition: inline\r\n\r\n"
        b"<script>alert(1)</script>\r\n--B--\r\n"
    )
    await devmail.send(raw)
    (summary,) = (await devmail.json("/api/v1/messages"))["messages"]
    message = f"/api/v1/message/{summary['ID']}"
    for path, content_type in (
        (f"{message}/part/2", "image/svg+xml"),
        (f"{message}/part/3", "text/html"),
        # Mail as text: a browser that sniffed it would find the same markup.
        (f"{message}/raw", "text/plain"),
        (f"/view/{summary['ID']}.txt", "text/plain"),
    ):
        response = await devmail.client.get(path)
        assert (response.status, response.content_type) == (200, content_type)
        policy = response.headers["Content-Security-Policy"]
        assert "sandbox" in policy and "default-src 'none'" in policy, policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_part_whose_type_is_no_media_type_downloads_as_bytes(devmail: Devmail) -> None:
    """A control character in a part's Content-Type went into the response's header: aiohttp
    refused to write it and dropped the connection with no answer at all."""
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: odd types\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        b"--B\r\nContent-Type: \x1b[31mtext/x-red\r\n\r\nred\r\n"
        b"--B\r\nContent-Type: application/\xff\xfe\r\n\r\nbytes\r\n"
        b"--B\r\nContent-Type: a b/c d\r\n\r\nspaced\r\n--B--\r\n"
    )
    await devmail.send(raw)
    (summary,) = (await devmail.json("/api/v1/messages"))["messages"]
    for part, payload in (("2", b"red"), ("3", b"bytes"), ("4", b"spaced")):
        response = await devmail.client.get(f"/api/v1/message/{summary['ID']}/part/{part}")
        assert response.status == 200, await response.text()
        assert response.content_type == "application/octet-stream"
        assert await response.read() == payload


async def test_an_attached_message_downloads_as_that_message(devmail: Devmail) -> None:
    """The part came with the wrapper's own MIME headers on top (`Content-Type: message/rfc822`,
    its Content-Disposition), so the .eml a person saved had them as its headers instead of
    the attached message's, and newlines where the mail had CRLF."""
    # The CRLF before a boundary belongs to the boundary (RFC 2046), not to the part.
    inner = b"From: c@example.com\r\nSubject: the original\r\n\r\nforwarded\r\n271828"
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\n"
        b'Content-Disposition: attachment; filename="original.eml"\r\n\r\n'
        + inner
        + b"\r\n--B--\r\n"
    )
    await devmail.send(raw)
    (summary,) = (await devmail.json("/api/v1/messages"))["messages"]
    message = await devmail.json(f"/api/v1/message/{summary['ID']}")
    (attached,) = message["Attachments"]
    assert (attached["PartID"], attached["FileName"]) == ("2", "original.eml")
    response = await devmail.client.get(f"/api/v1/message/{summary['ID']}/part/2")
    assert response.content_type == "message/rfc822"
    downloaded = await response.read()
    assert downloaded == inner
    assert attached["Size"] == len(inner)
