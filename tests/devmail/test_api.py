"""Every HTTP route, against mail delivered over real SMTP."""

from __future__ import annotations

import asyncio
import smtplib

import pytest

from .conftest import Devmail, code_mail, plain_mail

SUMMARY_FIELDS = {
    "ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "Subject", "Created", "Size",
    "Snippet", "Attachments", "Seq", "Envelope", "EnvelopeMismatch", "Codes", "Links", "Flow",
    "Ref", "RefSeq", "Superseded", "SupersededBy",
}  # fmt: skip


async def send_three(devmail: Devmail) -> list[str]:
    """Three mails in a known order; returns their IDs oldest first."""
    await devmail.send(code_mail("alice@example.com", "111111", ref="a"))
    await devmail.send(plain_mail("bob@example.com", "Weekly report", "numbers inside\n"))
    await devmail.send(code_mail("carol@example.com", "333333", ref="c", subject="Hi Carol"))
    listing = await devmail.json("/api/v1/messages")
    return [m["ID"] for m in reversed(listing["messages"])]


async def test_list_is_newest_first_with_mailpit_envelope(devmail: Devmail) -> None:
    ids = await send_three(devmail)
    body = await devmail.json("/api/v1/messages")
    assert {k: body[k] for k in ("total", "unread", "count", "messages_count", "start")} == {
        "total": 3, "unread": 3, "count": 3, "messages_count": 3, "start": 0,
    }  # fmt: skip
    assert [m["ID"] for m in body["messages"]] == ids[::-1]
    assert [m["Seq"] for m in body["messages"]] == [3, 2, 1]
    first = body["messages"][-1]
    assert set(first) >= SUMMARY_FIELDS
    assert len(first["ID"]) == 22
    assert first["From"] == {"Name": "acctkit", "Address": "no-reply@localhost"}
    assert first["To"] == [{"Name": "", "Address": "alice@example.com"}]
    assert first["Codes"] == ["111111"]
    assert (first["Flow"], first["Ref"], first["RefSeq"]) == ("signup", "a", 1)
    assert first["Envelope"] == {
        "MailFrom": "no-reply@localhost",
        "RcptTo": ["alice@example.com"],
    }
    assert first["EnvelopeMismatch"] is False
    assert first["Created"].endswith("Z")

    page = await devmail.json("/api/v1/messages", start=1, limit=1)
    assert (page["count"], page["start"], page["total"]) == (1, 1, 3)
    assert [m["ID"] for m in page["messages"]] == [ids[1]]


@pytest.mark.parametrize("params", [{"start": "x"}, {"limit": "-1"}, {"start": "1.5"}])
async def test_bad_paging_is_a_problem(devmail: Devmail, params: dict[str, str]) -> None:
    response = await devmail.client.get("/api/v1/messages", params=params)
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert set(problem) == {"type", "title", "status", "detail", "code"}
    assert problem["code"] == "invalid_parameter"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("to:alice@example.com", ["alice"]),
        ("to:example.com -to:bob", ["carol", "alice"]),
        ("from:sender@example.com", ["bob"]),
        ("from:acctkit", ["carol", "alice"]),
        ('subject:"weekly report"', ["bob"]),
        ("subject:weekly subject:monthly", []),
        ("numbers", ["bob"]),
        ('"numbers inside"', ["bob"]),
        ('"inside numbers"', []),
        ("333333", ["carol"]),
        ("-333333", ["bob", "alice"]),
        ("is:unread", ["carol", "bob", "alice"]),
        ("is:read", []),
        ("", ["carol", "bob", "alice"]),
    ],
)
async def test_search(devmail: Devmail, query: str, expected: list[str]) -> None:
    await send_three(devmail)
    body = await devmail.json("/api/v1/search", query=query)
    found = [m["To"][0]["Address"].split("@")[0] for m in body["messages"]]
    assert found == expected
    assert body["messages_count"] == len(expected)
    assert body["total"] == 3


async def test_search_by_message_id_and_read_state(devmail: Devmail) -> None:
    mail = plain_mail("dave@example.com")
    mail["Message-ID"] = "<unique-123@devmail.test>"
    await devmail.send(mail)
    await devmail.send(plain_mail("erin@example.com"))
    body = await devmail.json("/api/v1/search", query="message-id:unique-123@devmail.test")
    assert [m["MessageID"] for m in body["messages"]] == ["unique-123@devmail.test"]
    await devmail.json(f"/api/v1/message/{body['messages'][0]['ID']}")
    read = await devmail.json("/api/v1/search", query="is:read")
    unread = await devmail.json("/api/v1/search", query="is:unread")
    assert [m["To"][0]["Address"] for m in read["messages"]] == ["dave@example.com"]
    assert [m["To"][0]["Address"] for m in unread["messages"]] == ["erin@example.com"]
    assert unread["unread"] == 1


async def test_search_with_unknown_flag_is_400(devmail: Devmail) -> None:
    problem = await devmail.json("/api/v1/search", status=400, query="is:starred")
    assert problem["code"] == "invalid_query"


async def test_get_message_decodes_and_marks_read(devmail: Devmail) -> None:
    mail = code_mail("alice@example.com", "042917")
    mail["Cc"] = "Carl <carl@example.com>"
    mail["Reply-To"] = "help@example.com"
    mail["Date"] = "Tue, 05 Mar 2024 10:20:30 +0100"
    mail.add_attachment(b"a,b\n", maintype="text", subtype="csv", filename="x.csv")
    await devmail.send(mail)
    (summary,) = (await devmail.json("/api/v1/messages"))["messages"]
    assert summary["Read"] is False
    assert summary["Attachments"] == 1

    message = await devmail.json(f"/api/v1/message/{summary['ID']}")
    assert message["Read"] is True
    assert message["Text"] == "Your verification code is 042917. It expires in 10 minutes.\n"
    assert "<strong>042917</strong>" in message["HTML"]
    assert message["Date"] == "2024-03-05T09:20:30.000Z"
    assert message["Cc"] == [{"Name": "Carl", "Address": "carl@example.com"}]
    assert message["ReplyTo"] == [{"Name": "", "Address": "help@example.com"}]
    assert message["Attachments"] == [
        {"PartID": "2", "FileName": "x.csv", "ContentType": "text/csv", "ContentID": "", "Size": 4}
    ]
    assert message["Headers"]["X-Acctkit-Flow"] == ["signup"]
    assert message["Codes"] == ["042917"]
    assert message["Size"] == summary["Size"]
    after = await devmail.json("/api/v1/messages")
    assert after["unread"] == 0 and after["messages"][0]["Read"] is True

    part = await devmail.client.get(f"/api/v1/message/{summary['ID']}/part/2")
    assert part.status == 200 and await part.read() == b"a,b\n"
    assert part.content_type == "text/csv"
    missing_part = await devmail.client.get(f"/api/v1/message/{summary['ID']}/part/9")
    assert missing_part.status == 404


async def test_unknown_message_is_404_problem(devmail: Devmail) -> None:
    for path in ("", "/raw", "/headers"):
        response = await devmail.client.get(f"/api/v1/message/nope{path}")
        assert response.status == 404
        assert response.content_type == "application/problem+json"
        assert (await response.json())["code"] == "message_not_found"


def _send_bytes(port: int, raw: bytes, rcpt: list[str]) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("sender@example.com", rcpt, raw)


async def test_raw_is_byte_for_byte(devmail: Devmail) -> None:
    raw = (
        b"From: s@example.com\r\nTo: r@example.com\r\nSubject: raw\r\n"
        b"X-Odd:   spaced\t value\r\n\r\n"
        b".a line that starts with a dot\r\n..two dots\r\n"
        b"trailing spaces   \r\n\r\n\r\nbinary-ish \xc3\xa9 \xff\r\n"
    )
    await asyncio.to_thread(_send_bytes, devmail.smtp_port, raw, ["r@example.com"])
    (summary,) = (await devmail.json("/api/v1/messages"))["messages"]
    for path in (f"/api/v1/message/{summary['ID']}/raw", "/api/v1/message/latest/raw"):
        response = await devmail.client.get(path)
        assert response.status == 200
        assert response.content_type == "text/plain"
        assert await response.read() == raw
    assert summary["Size"] == len(raw)


@pytest.mark.parametrize(
    "date",
    [
        "Fri, 31 Dec 9999 23:59:59 -2359",  # after 9999-12-31 in UTC
        "Sat, 1 Jan 10000 00:00:00 +0000",  # no year datetime has
        "Tue, 30 Feb 2021 10:00:00 +0000",  # no such day
    ],
)
async def test_a_date_that_is_no_utc_time_falls_back_to_arrival(
    devmail: Devmail, date: str
) -> None:
    """A Date whose UTC time falls outside datetime's range made the message a 500 for good."""
    raw = f"From: s@example.com\r\nTo: r@example.com\r\nDate: {date}\r\n\r\nx\r\n".encode()
    await asyncio.to_thread(_send_bytes, devmail.smtp_port, raw, ["r@example.com"])
    (summary,) = (await devmail.json("/api/v1/messages"))["messages"]
    message = await devmail.json(f"/api/v1/message/{summary['ID']}")
    assert message["Date"] == message["Created"] == summary["Created"]
    assert message["Headers"]["Date"] == [date]


async def test_headers_route_canonical_names_all_values(devmail: Devmail) -> None:
    raw = (
        b"Received: from a\r\nReceived: from b\r\nmessage-id: <m1@x>\r\n"
        b"Subject: =?utf-8?q?caf=C3=A9?=\r\nTo: r@example.com\r\n\r\nx\r\n"
    )
    await asyncio.to_thread(_send_bytes, devmail.smtp_port, raw, ["r@example.com"])
    (summary,) = (await devmail.json("/api/v1/messages"))["messages"]
    headers = await devmail.json(f"/api/v1/message/{summary['ID']}/headers")
    assert headers["Received"] == ["from a", "from b"]
    assert headers["Message-Id"] == ["<m1@x>"]
    assert headers["Subject"] == ["caf\u00e9"]
    assert headers == await devmail.json("/api/v1/message/latest/headers", query="to:r@")


async def test_latest_with_query(devmail: Devmail) -> None:
    ids = await send_three(devmail)
    latest = await devmail.json("/api/v1/message/latest")
    assert latest["ID"] == ids[2]
    alice = await devmail.json("/api/v1/message/latest", query="to:alice@example.com")
    assert alice["ID"] == ids[0] and alice["Read"] is True
    problem = await devmail.json("/api/v1/message/latest", status=404, query="to:nobody@")
    assert problem["code"] == "message_not_found"
    assert (await devmail.client.get("/api/v1/message/latest/raw?query=to:nobody@")).status == 404


async def test_latest_after_returns_only_newer(devmail: Devmail) -> None:
    ids = await send_three(devmail)
    newer = await devmail.json("/api/v1/message/latest", query="from:acctkit", after=ids[0])
    assert newer["ID"] == ids[2]
    await devmail.json("/api/v1/message/latest", status=404, after=ids[2])
    problem = await devmail.json("/api/v1/message/latest", status=400, after="no-such-id")
    assert problem["code"] == "unknown_after"
    # A deleted message still works as a bookmark.
    response = await devmail.client.delete("/api/v1/messages", json={"IDs": [ids[0]]})
    assert response.status == 200
    newest = await devmail.json("/api/v1/message/latest", after=ids[0])
    assert newest["ID"] == ids[2]


async def test_long_poll_wakes_when_matching_mail_arrives(devmail: Devmail) -> None:
    await devmail.send(code_mail("alice@example.com", "111111"))
    poll = asyncio.create_task(
        devmail.client.get(
            "/api/v1/message/latest", params={"query": "to:zed@example.com", "wait": "30"}
        )
    )
    # Once the poll is held, a non-matching mail does not answer it; the match does.
    await devmail.server.store.until_waiting(1)
    await devmail.send(code_mail("other@example.com", "222222"))
    assert devmail.server.store.waiting == 1
    await devmail.send(code_mail("zed@example.com", "654321"))
    response = await poll
    assert response.status == 200
    message = await response.json()
    assert message["To"] == [{"Name": "", "Address": "zed@example.com"}]
    assert message["Codes"] == ["654321"]


async def test_long_poll_with_after_waits_for_a_newer_match(devmail: Devmail) -> None:
    await devmail.send(code_mail("alice@example.com", "111111", seq=1))
    first = await devmail.json("/api/v1/message/latest", query="to:alice@")
    poll = asyncio.create_task(
        devmail.client.get(
            "/api/v1/message/latest",
            params={"query": "to:alice@", "wait": "30", "after": first["ID"]},
        )
    )
    await devmail.server.store.until_waiting(1)
    await devmail.send(code_mail("alice@example.com", "222222", seq=2))
    response = await poll
    assert response.status == 200
    assert (await response.json())["Codes"] == ["222222"]


async def test_long_poll_ends_with_404_when_nothing_arrives(devmail: Devmail) -> None:
    problem = await devmail.json(
        "/api/v1/message/latest", status=404, query="to:nobody@", wait="0.2"
    )
    assert problem["code"] == "message_not_found"


@pytest.mark.parametrize("wait", ["-1", "abc", "nan", "inf"])
async def test_invalid_wait_is_400(devmail: Devmail, wait: str) -> None:
    problem = await devmail.json("/api/v1/message/latest", status=400, wait=wait)
    assert problem["code"] == "invalid_parameter"


async def test_delete_by_ids(devmail: Devmail) -> None:
    ids = await send_three(devmail)
    response = await devmail.client.delete("/api/v1/messages", json={"IDs": [ids[0], "unknown"]})
    assert response.status == 200
    remaining = await devmail.json("/api/v1/messages")
    assert [m["ID"] for m in remaining["messages"]] == [ids[2], ids[1]]
    response = await devmail.client.delete("/api/v1/messages", json={"IDs": []})
    assert response.status == 200
    assert (await devmail.json("/api/v1/messages"))["total"] == 2


@pytest.mark.parametrize("body", [None, b"", b"{}", b'{"IDs": null}', b"  \r\n"])
async def test_delete_all(devmail: Devmail, body: bytes | None) -> None:
    await send_three(devmail)
    response = await devmail.client.delete("/api/v1/messages", data=body)
    assert response.status == 200
    assert (await devmail.json("/api/v1/messages"))["total"] == 0
    info = await devmail.json("/api/v1/info")
    assert info["Messages"] == 0


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'"x"', b'{"IDs": "abc"}', b'{"IDs": [1, 2]}', b'{"ids": [], "x": 1}', b"\xff"],
)
async def test_delete_with_malformed_body_is_400_and_deletes_nothing(
    devmail: Devmail, body: bytes
) -> None:
    await send_three(devmail)
    response = await devmail.client.delete(
        "/api/v1/messages", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    assert (await response.json())["code"] == "malformed_body"
    assert (await devmail.json("/api/v1/messages"))["total"] == 3


async def test_delete_with_form_body_and_lowercase_key(devmail: Devmail) -> None:
    ids = await send_three(devmail)
    response = await devmail.client.delete("/api/v1/messages", data={"ids": ids[1]})
    assert response.status == 200
    response = await devmail.client.delete("/api/v1/messages", json={"ids": [ids[2]]})
    assert response.status == 200
    assert [m["ID"] for m in (await devmail.json("/api/v1/messages"))["messages"]] == [ids[0]]


@pytest.mark.parametrize(
    ("body", "status"), [(b"ids=", 200), (b"IDs=&ids=", 200), (b"=", 400), (b"=x", 400)]
)
async def test_a_form_body_naming_no_message_changes_nothing(
    devmail: Devmail, body: bytes, status: int
) -> None:
    """A blank form value was dropped, so `ids=` (as a client sends an empty list) read as no
    body at all: DELETE emptied the mailbox and PUT marked every message."""
    await send_three(devmail)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for method, data in (("DELETE", body), ("PUT", body + b"&Read=true")):
        response = await devmail.client.request(method, "/api/v1/messages", data=data, headers=form)
        assert response.status == status, await response.text()
    listing = await devmail.json("/api/v1/messages")
    assert (listing["total"], listing["unread"]) == (3, 3)


async def test_delete_search(devmail: Devmail) -> None:
    await send_three(devmail)
    response = await devmail.client.delete("/api/v1/search", params={"query": "from:acctkit"})
    assert response.status == 200
    body = await devmail.json("/api/v1/messages")
    assert [m["To"][0]["Address"] for m in body["messages"]] == ["bob@example.com"]
    assert (await devmail.client.delete("/api/v1/search")).status == 400


async def test_info(devmail: Devmail) -> None:
    await send_three(devmail)
    await devmail.json("/api/v1/message/latest")
    info = await devmail.json("/api/v1/info")
    assert {k: info[k] for k in ("Messages", "Unread", "Retention", "Evicted")} == {
        "Messages": 3, "Unread": 2, "Retention": 10_000, "Evicted": 0,
    }  # fmt: skip
    assert (info["SMTPAccepted"], info["SMTPRejected"]) == (3, 0)
    assert isinstance(info["Uptime"], int) and isinstance(info["Version"], str)


async def test_health_trailing_slashes_and_problem_statuses(devmail: Devmail) -> None:
    for path in ("/livez", "/readyz", "/livez/", "/api/v1/info/", "/api/v1/messages/"):
        assert (await devmail.client.get(path)).status == 200, path
    response = await devmail.client.post("/api/v1/messages")
    assert response.status == 405
    assert response.content_type == "application/problem+json"
    assert "GET" in response.headers["Allow"]
    assert (await response.json())["code"] == "method_not_allowed"
    response = await devmail.client.get("/api/v2/nothing")
    assert response.status == 404
    assert (await response.json())["status"] == 404


async def test_shutdown_answers_held_long_polls(devmail: Devmail) -> None:
    poll = asyncio.create_task(
        devmail.client.get("/api/v1/message/latest", params={"query": "to:x@", "wait": "60"})
    )
    await devmail.server.store.until_waiting(1)
    await devmail.server.store.release()  # what the app's on_shutdown does
    response = await poll
    assert response.status == 503
    assert (await response.json())["code"] == "shutting_down"
