"""devmail's records turned into the Mailpit JSON Structs of `contract.mailpit`."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from contract import mailpit
from devmail.events import Event
from devmail.message import Summary
from devmail.parse import Address, Attachment


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def address(found: Address) -> mailpit.Address:
    return mailpit.Address(Name=found.name, Address=found.address)


def attachment(found: Attachment) -> mailpit.Attachment:
    return mailpit.Attachment(
        PartID=found.part_id,
        FileName=found.file_name,
        ContentType=found.content_type,
        ContentID=found.content_id,
        Size=found.size,
    )


def summary(found: Summary) -> mailpit.Summary:
    """Mailpit's message summary (Attachments is a count there) plus the extension fields."""
    stored = found.message
    p = stored.parsed
    return mailpit.Summary(
        ID=stored.id,
        MessageID=p.message_id,
        Read=found.read,
        From=address(p.from_) if p.from_ else None,
        To=[address(a) for a in p.to],
        Cc=[address(a) for a in p.cc],
        Bcc=[address(a) for a in p.bcc],
        ReplyTo=[address(a) for a in p.reply_to],
        Subject=p.subject,
        Created=iso(stored.created),
        Size=stored.size,
        Snippet=p.snippet,
        Attachments=len(p.attachments),
        Tags=list(found.tags),
        Seq=stored.seq,
        Envelope=mailpit.Envelope(
            MailFrom=stored.envelope.mail_from, RcptTo=list(stored.envelope.rcpt_to)
        ),
        EnvelopeMismatch=stored.envelope_mismatch,
        Codes=list(p.codes),
        Links=list(p.links),
        Flow=p.flow,
        Ref=p.ref,
        RefSeq=p.ref_seq,
        Superseded=found.superseded,
        SupersededBy=found.superseded_by,
        RequestID=p.request_id,
        PartsMismatch=p.parts_mismatch,
    )


def canonical_header_name(name: str) -> str:
    """Mailpit (Go) canonicalises header names: "message-id" and "Message-ID" are "Message-Id"."""
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


def headers(found: Summary) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in found.message.parsed.headers:
        result.setdefault(canonical_header_name(name), []).append(value)
    return result


def message(found: Summary, headers: dict[str, list[str]]) -> mailpit.Message:
    """The whole message; `headers` as `headers(found)` gives them (the caller decides where
    that work runs)."""
    stored = found.message
    p = stored.parsed
    short = summary(found)
    return mailpit.Message(
        ID=short.ID,
        MessageID=short.MessageID,
        Read=short.Read,
        From=short.From,
        To=short.To,
        Cc=short.Cc,
        Bcc=short.Bcc,
        ReplyTo=short.ReplyTo,
        ReturnPath=p.return_path or stored.envelope.mail_from,
        Subject=short.Subject,
        Date=iso(p.date) if p.date else short.Created,
        Created=short.Created,
        Text=p.text,
        HTML=p.html,
        Size=short.Size,
        Snippet=short.Snippet,
        Attachments=[attachment(a) for a in p.attachments],
        Inline=[attachment(a) for a in p.inline],
        Headers=headers,
        Tags=short.Tags,
        Seq=short.Seq,
        Envelope=short.Envelope,
        EnvelopeMismatch=short.EnvelopeMismatch,
        Codes=short.Codes,
        Links=short.Links,
        Flow=short.Flow,
        Ref=short.Ref,
        RefSeq=short.RefSeq,
        Superseded=short.Superseded,
        SupersededBy=short.SupersededBy,
        RequestID=short.RequestID,
        PartsMismatch=short.PartsMismatch,
    )


def event(found: Event) -> mailpit.Event:
    return mailpit.Event(Type=found.type, Data=summary(found.summary))


_ENCODER = msgspec.json.Encoder()


def event_frame(found: Event) -> str:
    """The websocket text frame of an event, as every subscriber receives it."""
    return _ENCODER.encode(event(found)).decode()
