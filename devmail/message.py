"""One caught message: what arrived (bytes, envelope, time) and what devmail read from it."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devmail.parse import ParsedMessage


def new_id() -> str:
    """22 URL-safe characters, like Mailpit's IDs; random so IDs reveal nothing and never clash."""
    return secrets.token_urlsafe(16)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_to: tuple[str, ...]


def envelope_mismatch(envelope: Envelope, parsed: ParsedMessage) -> bool:
    """True when the SMTP envelope delivered to someone the headers do not name.

    The rule: every envelope recipient (RCPT TO) must appear, case-insensitively, among the
    To, Cc or Bcc header addresses. Bcc recipients legitimately appear only in the envelope
    when the sender strips the Bcc header, so they are not tolerated silently: a service that
    means to Bcc should keep the header when sending to a catcher. The converse is not a
    mismatch: a sender may split one message into one SMTP transaction per recipient, so a
    header address missing from this envelope is normal.
    """
    named = {a.address.casefold() for a in (*parsed.to, *parsed.cc, *parsed.bcc)}
    return any(rcpt.casefold() not in named for rcpt in envelope.rcpt_to)


@dataclass(frozen=True, slots=True)
class Stored:
    """One message as received; immutable, so it can be handed to any reader safely."""

    id: str
    seq: int
    created: datetime
    size: int
    envelope: Envelope
    parsed: ParsedMessage

    @property
    def envelope_mismatch(self) -> bool:
        return envelope_mismatch(self.envelope, self.parsed)

    @property
    def group_key(self) -> tuple[str, str] | None:
        """Messages of one flow and ref form a group in which a higher RefSeq supersedes."""
        p = self.parsed
        if p.ref is None or p.ref_seq is None:
            return None
        return (p.flow or "", p.ref)


@dataclass(frozen=True)
class Summary:
    """A message plus the state that changes after arrival (read, superseded, tags)."""

    message: Stored
    read: bool
    superseded_by: str | None
    tags: tuple[str, ...] = ()

    @property
    def superseded(self) -> bool:
        return self.superseded_by is not None


def search_fields(stored: Stored) -> dict[str, str]:
    """The casefolded text each search field looks at (the index caches it per message)."""
    p = stored.parsed

    def people(addresses: Iterable[Any]) -> str:
        return " ".join(f"{a.name} <{a.address}>" for a in addresses)

    fields = {
        "to": " ".join([people((*p.to, *p.cc, *p.bcc)), *stored.envelope.rcpt_to]),
        "from": " ".join([people([p.from_] if p.from_ else []), stored.envelope.mail_from]),
        "subject": p.subject,
        "message-id": p.message_id,
        "flow": p.flow or "",
        "ref": p.ref or "",
    }
    bodies = [p.text, p.html_text, " ".join(p.codes)]
    fields["text"] = "\n".join([*fields.values(), *bodies])
    return {name: value.casefold() for name, value in fields.items()}
