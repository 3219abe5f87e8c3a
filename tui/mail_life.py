"""A mailed code's life as the TUI can tell it from devmail's summaries: current, superseded by a
later code of the same ref, expired, or used (when this TUI verified it). The expiry comes from the
mail's own words ("It expires in 10 minutes") when it says so, else from the service's defaults."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache

from tui.client import MailSummary

DEFAULT_CODE_TTL = 600  # ACCTKIT_CODE_TTL's default
DEFAULT_RESET_TTL = 300  # ACCTKIT_RESET_TTL's default
CODE_FLOWS = ("signup", "email-change")
LINK_FLOWS = ("password-reset",)

_TTL = re.compile(
    r"(?:expires? in|within|valid for)\s+(\d+)\s*(second|minute|hour)s?", re.IGNORECASE
)
_UNIT = {"second": 1, "minute": 60, "hour": 3600}


def stated_ttl(text: str) -> int | None:
    """Seconds a mail says its code or link lives, if it says so."""
    found = _TTL.search(text)
    return int(found.group(1)) * _UNIT[found.group(2).lower()] if found else None


def header_expiry(headers: Mapping[str, list[str]]) -> datetime | None:
    """RFC 4021's `Expires` header, when a sender states the moment itself."""
    for name, values in headers.items():
        if name.lower() == "expires" and values:
            try:
                return parsedate_to_datetime(values[0])
            except (TypeError, ValueError):
                return None
    return None


def expires_at(
    mail: MailSummary, text: str = "", headers: Mapping[str, list[str]] | None = None
) -> datetime | None:
    stated = header_expiry(headers or {})
    if stated is not None:
        return stated
    if mail.created is None:
        return None
    ttl = stated_ttl(text) or stated_ttl(mail.snippet)
    if ttl is None:
        ttl = DEFAULT_RESET_TTL if mail.flow in LINK_FLOWS else DEFAULT_CODE_TTL
    return mail.created + timedelta(seconds=ttl)


@lru_cache(maxsize=4096)
def _summary_expiry(mail: MailSummary) -> datetime | None:
    """A summary never changes its text: read it once, not on every tick of every row."""
    return expires_at(mail)


def carries_secret(mail: MailSummary) -> bool:
    return bool(mail.codes) or (mail.flow in LINK_FLOWS and bool(mail.links))


def what(mail: MailSummary) -> str:
    """The code, or "link" for a mail that carries a link instead."""
    if mail.codes:
        return mail.codes[0]
    return "link" if mail.links else ""


@dataclass(frozen=True)
class Life:
    state: str  # "current", "superseded", "expired", "used" or "" (nothing to use)
    text: str  # what a person reads: "superseded by #3", "expired 20:31:02"
    by: MailSummary | None = None  # the mail that superseded it


def clock(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%H:%M:%S") if moment else "?"


def successor(mail: MailSummary | None) -> str:
    if mail is None:
        return "a newer mail"
    return f"#{mail.ref_seq}" if mail.ref_seq is not None else f"the {clock(mail.created)} mail"


class Lives:
    """Judges each mail against the others of its ref and what this TUI has used."""

    def __init__(self) -> None:
        self.used: set[tuple[str, str]] = set()  # (ref, code or link) this TUI spent
        # (ref, seq) -> when the service said that code expires. A mail's arrival only estimates
        # it: mail held back (an SMTP outage, devmail's chaos) arrives late, its code no younger.
        self.stated: dict[tuple[str, int], datetime] = {}

    def state_expiry(self, ref: str, seq: int, until: datetime) -> None:
        self.stated[(ref, seq)] = until

    def stated_expiry(self, mail: MailSummary) -> datetime | None:
        """The service's word on when this mail's code expires, if this TUI heard it."""
        if mail.ref is None or mail.ref_seq is None:
            return None
        return self.stated.get((mail.ref, mail.ref_seq))

    def expiry(self, mail: MailSummary) -> datetime | None:
        return self.stated_expiry(mail) or _summary_expiry(mail)

    def mark_used(self, ref: str | None, secret: str) -> None:
        """`ref` None: any mail carrying that code or link (a pasted link names no ref)."""
        if secret:
            self.used.add((ref or "*", secret))

    def life(self, mail: MailSummary, mails: Mapping[str, MailSummary], now: datetime) -> Life:
        """`mails`: every mail the table holds, by ID (looked up, not scanned: this runs for
        every row on every redraw and tick)."""
        if not carries_secret(mail):
            return Life("", "")
        secrets = (*mail.codes, *mail.links)
        if any((mail.ref or "*", s) in self.used or ("*", s) in self.used for s in secrets):
            return Life("used", "used")
        later = self.superseded_by(mail, mails)
        if later is not None or mail.superseded:
            return Life("superseded", f"superseded by {successor(later)}", later)
        until = self.expiry(mail)
        if until is not None and now >= until:
            return Life("expired", "expired")
        return Life("current", "current")

    @staticmethod
    def superseded_by(mail: MailSummary, mails: Mapping[str, MailSummary]) -> MailSummary | None:
        """devmail's `SupersededBy` (the newest code of the ref); for reset links, a later reset
        mail to the same address (the service kills older links; each has its own ref)."""
        if mail.superseded_by:
            return mails.get(mail.superseded_by)
        if mail.flow in LINK_FLOWS:
            later = [
                m
                for m in mails.values()
                if m.flow == mail.flow and m.to_text == mail.to_text and _after(m, mail)
            ]
            return max(later, key=_order) if later else None
        return None


def _order(mail: MailSummary) -> tuple[float, int]:
    return (mail.created.timestamp() if mail.created else 0.0, mail.seq)


def _after(a: MailSummary, b: MailSummary) -> bool:
    return _order(a) > _order(b)
