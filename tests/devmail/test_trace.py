"""Summary fields RequestID (the X-Acctkit-Request-ID header) and PartsMismatch (the text and
HTML parts disagree on codes or links: the person may read the other one)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from devmail.parse import parse

from .conftest import Devmail, code_mail, plain_mail

LINK = "http://127.0.0.1:8000/reset-password/Zx9_k-2Qm41"
OTHER = "http://127.0.0.1:8000/reset-password/OLD-uid-000"


def two_part(text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "acctkit <no-reply@localhost>"
    message["To"] = "alice@example.com"
    message["Subject"] = "Your acctkit mail"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


@pytest.mark.parametrize(
    ("text", "html", "mismatch"),
    [
        ("Your code is 042917.", "<p>Your code is <b>042917</b>.</p>", False),
        ("Your code is 042917.", "<p>Your code is <b>042918</b>.</p>", True),
        ("Your code is 042917.", "<p>Your code is <b>42917</b>.</p>", True),
        ("Your code is 042917.", "<p>Welcome!</p>", True),
        (f"Open {LINK} now.", f'<a href="{LINK}">reset</a>', False),
        (f"Open {LINK} now.", f'<a href="{OTHER}">reset</a>', True),
        (f"Open {LINK} now.", f'<a href="{LINK}">reset</a> or <a href="{OTHER}">this</a>', True),
        (f"Open {LINK} now.", f"<p>Paste {LINK} into your browser.</p>", False),
    ],
)
def test_parts_mismatch(text: str, html: str, mismatch: bool) -> None:
    assert parse(two_part(text, html).as_bytes()).parts_mismatch is mismatch


def test_a_single_part_never_mismatches() -> None:
    assert parse(plain_mail(body="Your code is 111111.\n").as_bytes()).parts_mismatch is False


async def test_request_id_and_parts_mismatch_in_summary_and_search(devmail: Devmail) -> None:
    good = code_mail("alice@example.com", "042917")
    good["X-Acctkit-Request-ID"] = "req-7f3a9c"
    await devmail.send(good)
    bad = two_part("Your verification code is 111111.", "<p>Your code is <b>222222</b></p>")
    await devmail.send(bad)

    newest, oldest = (await devmail.json("/api/v1/messages"))["messages"]
    assert (oldest["RequestID"], oldest["PartsMismatch"]) == ("req-7f3a9c", False)
    assert (newest["RequestID"], newest["PartsMismatch"]) == (None, True)
    assert newest["Codes"] == ["111111", "222222"]
    message = await devmail.json(f"/api/v1/message/{oldest['ID']}")
    assert message["RequestID"] == "req-7f3a9c"
