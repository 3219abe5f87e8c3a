"""The pure parts of a code's life: what a mail says about its expiry, and how a countdown
reads. (The states themselves are tested through the TUI against real mail.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tui.client import MailAddress, MailSummary
from tui.mail_life import DEFAULT_CODE_TTL, DEFAULT_RESET_TTL, expires_at, stated_ttl
from tui.widgets.mail_table import age
from tui.widgets.wait_strip import span

SENT = datetime(2026, 11, 24, 20, 27, 8, tzinfo=UTC)


def mail(flow: str = "signup", snippet: str = "") -> MailSummary:
    return MailSummary(
        id="m1",
        from_=MailAddress("", "no-reply@localhost"),
        to=(MailAddress("", "alice@example.com"),),
        subject="code",
        created=SENT,
        snippet=snippet,
        codes=("042917",) if flow != "password-reset" else (),
        links=() if flow != "password-reset" else ("http://x/reset-password/u",),
        flow=flow,
        ref="r1",
        ref_seq=1,
        superseded=False,
        superseded_by=None,
        read=False,
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("Your code is 042917. It expires in 10 minutes.", 600),
        ("It expires in 1 minute.", 60),
        ("open this link within 5 minutes:", 300),
        ("valid for 2 hours", 7200),
        ("nothing about time", None),
    ],
)
def test_stated_ttl_reads_the_mails_own_words(text: str, seconds: int | None) -> None:
    assert stated_ttl(text) == seconds


def test_expiry_prefers_a_header_then_the_text_then_the_service_default() -> None:
    header = {"Expires": ["Tue, 24 Nov 2026 20:30:00 +0000"]}
    assert expires_at(mail(), "It expires in 10 minutes.", header) == SENT.replace(
        minute=30, second=0
    )
    assert expires_at(mail(), "It expires in 3 minutes.") == SENT + timedelta(minutes=3)
    assert expires_at(mail(snippet="It expires in 4 minutes.")) == SENT + timedelta(minutes=4)
    assert expires_at(mail()) == SENT + timedelta(seconds=DEFAULT_CODE_TTL)
    assert expires_at(mail("password-reset")) == SENT + timedelta(seconds=DEFAULT_RESET_TTL)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(462, "7:42"), (0.4, "0:01"), (0, "0:00"), (-5, "0:00"), (3723, "1:02:03")],
)
def test_span_reads_like_a_countdown(seconds: float, text: str) -> None:
    assert span(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(5, "5s"), (61, "1m"), (7200, "2h"), (90000, "1d")])
def test_age_is_short(seconds: int, text: str) -> None:
    assert age(seconds) == text
