"""What the clients return, free of HTTP and of Textual.

Accounts answers are the contract's Structs themselves (msgspec decodes and checks them). devmail
answers are decoded as the contract's Mailpit Structs, then viewed as the small dataclasses below,
which add what the mailbox needs: times parsed, tuples, snake_case, `to_text`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contract import accounts


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- accounts results: the contract's own Structs (contract/accounts.py) ------------------

User = accounts.UserOut
TokenPair = accounts.TokenPair
SignupStarted = accounts.SignupStarted
CodeSent = accounts.CodeSent
ResetCheck = accounts.ResetStatus
Health = accounts.Status
Session = accounts.Session


@dataclass(frozen=True)
class Verified:
    """signup/verify's answer split the way the client uses it: the pair becomes the login."""

    user: User
    tokens: TokenPair


# --- devmail results -------------------------------------------------------------------------


@dataclass(frozen=True)
class MailAddress:
    name: str
    address: str

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass(frozen=True)
class MailSummary:
    id: str
    from_: MailAddress
    to: tuple[MailAddress, ...]
    subject: str
    created: datetime | None
    snippet: str
    codes: tuple[str, ...]
    links: tuple[str, ...]
    flow: str | None
    ref: str | None
    ref_seq: int | None
    superseded: bool
    superseded_by: str | None
    read: bool
    seq: int = 0  # devmail's arrival counter: orders messages created in the same millisecond
    request_id: str | None = None  # X-Request-ID of the accounts request that caused this mail
    parts_mismatch: bool = False  # text and HTML parts carry different codes or links

    @property
    def to_text(self) -> str:
        return ", ".join(a.address for a in self.to)


@dataclass(frozen=True)
class MailMessage:
    summary: MailSummary
    text: str
    html: str
    headers: dict[str, list[str]]


@dataclass(frozen=True)
class MailPage:
    total: int
    unread: int
    messages: tuple[MailSummary, ...]


@dataclass(frozen=True)
class MailEvent:
    """A websocket event; type "connected" is ours: the socket is open, list now, miss nothing."""

    type: str
    summary: MailSummary | None
