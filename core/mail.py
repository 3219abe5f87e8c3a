"""The mails acctkit sends, rendered from the very values the transaction stores.

Each mail names its flow, ref and seq (as X-Acctkit-* headers and in the text), so a person or a
test can tell which request a code belongs to and whether a newer one replaced it. A mail also
knows when what it carries expires: the outbox retries it until then, and no longer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    flow: str
    ref: str
    seq: int = 1
    expires_at: datetime | None = None  # of the code or link it carries; None for a notice

    @property
    def headers(self) -> dict[str, str]:
        return {
            "X-Acctkit-Flow": self.flow,
            "X-Acctkit-Ref": self.ref,
            "X-Acctkit-Seq": str(self.seq),
        }


def _html(paragraphs: list[str]) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>acctkit</title></head>'
        f'<body style="font-family: sans-serif">\n{body}\n</body></html>\n'
    )


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def code_mail(
    *,
    to: str,
    name: str,
    code: str,
    flow: str,
    ref: str,
    seq: int,
    ttl: int,
    expires_at: datetime,
    purpose: str,
) -> Mail:
    """A mail carrying a one-time code. `purpose` is a phrase like "finish signing up"."""
    later = (
        f" This is code #{seq}: every earlier code for this request no longer works."
        if (seq > 1)
        else ""
    )
    text = (
        f"Hi {name},\n\n"
        f"Your verification code is {code}. Enter it to {purpose}.\n"
        f"It expires in {_minutes(ttl)}.{later}\n\n"
        "If you did not ask for this, ignore this mail.\n"
    )
    html = _html(
        [
            f"Hi {escape(name)},",
            f"Your verification code is <strong>{code}</strong>. Enter it to {escape(purpose)}.",
            f"It expires in {_minutes(ttl)}.{escape(later)}",
            "If you did not ask for this, ignore this mail.",
        ]
    )
    subject = (
        f"Your acctkit verification code (#{seq})"
        if seq > 1
        else ("Your acctkit verification code")
    )
    return Mail(
        to=to,
        subject=subject,
        text=text,
        html=html,
        flow=flow,
        ref=ref,
        seq=seq,
        expires_at=expires_at,
    )


def reset_mail(*, to: str, name: str, link: str, ref: str, ttl: int, expires_at: datetime) -> Mail:
    text = (
        f"Hi {name},\n\n"
        "Someone asked to reset the password of your acctkit account. To choose a new password,\n"
        f"open this link within {_minutes(ttl)}:\n\n{link}\n\n"
        "The link works once. If you did not ask for this, ignore this mail: "
        "your password stays as it is.\n"
    )
    html = _html(
        [
            f"Hi {escape(name)},",
            "Someone asked to reset the password of your acctkit account.",
            f'<a href="{escape(link)}">Choose a new password</a> within {_minutes(ttl)}.',
            f"Or paste this link into your browser: {escape(link)}",
            "The link works once. If you did not ask for this, ignore this mail.",
        ]
    )
    return Mail(
        to=to,
        subject="Reset your acctkit password",
        text=text,
        html=html,
        flow="password-reset",
        ref=ref,
        expires_at=expires_at,
    )


def notice_mail(*, to: str, name: str, subject: str, lines: list[str], flow: str, ref: str) -> Mail:
    """A plain notice with no secret in it (password changed, email changed)."""
    text = f"Hi {name},\n\n" + "\n".join(lines) + "\n"
    html = _html([f"Hi {escape(name)},", *(escape(line) for line in lines)])
    return Mail(to=to, subject=subject, text=text, html=html, flow=flow, ref=ref)
