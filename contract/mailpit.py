"""devmail's HTTP shapes: Mailpit's API v1 JSON (PascalCase, as Mailpit's Go structs name it)
plus devmail's extension fields, declared once.

devmail encodes every response from these Structs and decodes every request body into them;
the TUI decodes devmail's answers with the same classes. Field names are the wire names, so
a Mailpit client reads them unchanged. Request bodies refuse control characters (NUL and
friends) in every free-text field: a catcher must not store what it cannot show.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

# No C0 control character but tab, newline and carriage return; no DEL.
_PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# A single-line value (addresses, names, IDs, tags, header values).
_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"

Text = Annotated[str, msgspec.Meta(pattern=_PRINTABLE, max_length=4 * 1024 * 1024)]
Line = Annotated[str, msgspec.Meta(pattern=_ONE_LINE, max_length=998)]
MessageIDs = Annotated[list[Line], msgspec.Meta(max_length=100_000)]
TagName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._ -]{1,100}$")]
Probability = Annotated[int, msgspec.Meta(ge=0, le=100)]
SmtpCode = Annotated[int, msgspec.Meta(ge=400, le=599)]

# --- responses -------------------------------------------------------------------------------


class Address(msgspec.Struct, frozen=True):
    Name: str
    Address: str


class Envelope(msgspec.Struct, frozen=True):
    """(ext) What the SMTP transaction said, beside what the headers say."""

    MailFrom: str
    RcptTo: list[str]


class Attachment(msgspec.Struct, frozen=True):
    PartID: str
    FileName: str
    ContentType: str
    ContentID: str
    Size: int


class Summary(msgspec.Struct, frozen=True):
    """One row of a listing, and the `Data` of every websocket event.

    Mailpit's fields come first (`Attachments` is a count here); from `Seq` on they are
    devmail's extensions.
    """

    ID: str
    MessageID: str
    Read: bool
    From: Address | None
    To: list[Address]
    Cc: list[Address]
    Bcc: list[Address]
    ReplyTo: list[Address]
    Subject: str
    Created: str
    Size: int
    Snippet: str
    Attachments: int
    Tags: list[str]
    Seq: int
    Envelope: Envelope
    EnvelopeMismatch: bool
    Codes: list[str]
    Links: list[str]
    Flow: str | None
    Ref: str | None
    RefSeq: int | None
    Superseded: bool
    SupersededBy: str | None
    RequestID: str | None
    PartsMismatch: bool


class Message(msgspec.Struct, frozen=True):
    """GET /api/v1/message/{ID}: Mailpit's message plus every extension field of the summary."""

    ID: str
    MessageID: str
    Read: bool
    From: Address | None
    To: list[Address]
    Cc: list[Address]
    Bcc: list[Address]
    ReplyTo: list[Address]
    ReturnPath: str
    Subject: str
    Date: str
    Created: str
    Text: str
    HTML: str
    Size: int
    Snippet: str
    Attachments: list[Attachment]
    Inline: list[Attachment]
    Headers: dict[str, list[str]]
    Tags: list[str]
    Seq: int
    Envelope: Envelope
    EnvelopeMismatch: bool
    Codes: list[str]
    Links: list[str]
    Flow: str | None
    Ref: str | None
    RefSeq: int | None
    Superseded: bool
    SupersededBy: str | None
    RequestID: str | None
    PartsMismatch: bool


class Messages(msgspec.Struct, frozen=True):
    """GET /api/v1/messages and /api/v1/search (Mailpit names these keys in lower case)."""

    total: int
    unread: int
    count: int
    messages_count: int
    messages_unread: int
    start: int
    tags: list[str]
    messages: list[Summary]


class Event(msgspec.Struct, frozen=True):
    """One websocket message on /api/events."""

    Type: Literal["new", "delete", "update"]
    Data: Summary


class RuntimeStats(msgspec.Struct, frozen=True):
    Uptime: int
    SMTPAccepted: int
    SMTPAcceptedSize: int
    SMTPRejected: int
    MessagesDeleted: int
    Memory: int


class Info(msgspec.Struct, frozen=True):
    Version: str
    Messages: int
    Unread: int
    Retention: int
    Evicted: int
    SMTPAccepted: int
    SMTPRejected: int
    Uptime: int
    Database: str
    LatestVersion: str
    Tags: dict[str, int]
    LastSeq: int
    Subscribers: int
    Waiting: int
    RuntimeStats: RuntimeStats


class SendResult(msgspec.Struct, frozen=True):
    ID: str


# --- request bodies --------------------------------------------------------------------------


class DeleteRequest(msgspec.Struct, forbid_unknown_fields=True):
    """DELETE /api/v1/messages: no IDs (or null) means every message."""

    IDs: MessageIDs | None = None


class ReadRequest(msgspec.Struct, forbid_unknown_fields=True):
    """PUT /api/v1/messages: set Read on these IDs, on what Search matches, or on all."""

    IDs: MessageIDs | None = None
    Read: bool = False
    Search: Line = ""


class SetTagsRequest(msgspec.Struct, forbid_unknown_fields=True):
    """PUT /api/v1/tags: these messages get exactly these tags (none: tags removed)."""

    IDs: MessageIDs
    Tags: Annotated[list[TagName], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )


class RenameTagRequest(msgspec.Struct, forbid_unknown_fields=True):
    """PUT /api/v1/tags/{tag}."""

    Name: TagName


class SendAddress(msgspec.Struct, forbid_unknown_fields=True):
    Email: Line
    Name: Line = ""


class SendAttachment(msgspec.Struct, forbid_unknown_fields=True):
    Content: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9+/=\s]*$")]
    Filename: Line
    ContentType: Line = ""
    ContentID: Line = ""


class SendRequest(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/send: Mailpit's body; `Bcc` is a list of plain addresses there too."""

    From: SendAddress
    To: Annotated[list[SendAddress], msgspec.Meta(max_length=1000)] = msgspec.field(
        default_factory=list
    )
    Cc: Annotated[list[SendAddress], msgspec.Meta(max_length=1000)] = msgspec.field(
        default_factory=list
    )
    Bcc: Annotated[list[Line], msgspec.Meta(max_length=1000)] = msgspec.field(default_factory=list)
    ReplyTo: Annotated[list[SendAddress], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    Subject: Line = ""
    Text: Text = ""
    HTML: Text = ""
    Headers: dict[Annotated[str, msgspec.Meta(pattern=r"^[!-9;-~]{1,76}$")], Line] = msgspec.field(
        default_factory=dict
    )
    Tags: Annotated[list[TagName], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    Attachments: Annotated[list[SendAttachment], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )


# --- chaos (faults on demand) ----------------------------------------------------------------

ChaosStage = Literal["Connect", "Authentication", "Sender", "Recipient", "Data"]


class ChaosTrigger(msgspec.Struct, forbid_unknown_fields=True):
    """Answer this share (percent) of commands at one stage with ErrorCode (Mailpit's shape)."""

    ErrorCode: SmtpCode = 451
    Probability: Probability = 0


class ChaosDisconnect(msgspec.Struct, forbid_unknown_fields=True):
    """(ext) Drop the connection, without an answer, at this stage for this share of commands."""

    Stage: ChaosStage = "Data"
    Probability: Probability = 0


class ChaosLatency(msgspec.Struct, forbid_unknown_fields=True):
    """(ext) Hold the answer at this stage for Milliseconds, for this share of commands."""

    Stage: ChaosStage = "Data"
    Milliseconds: Annotated[int, msgspec.Meta(ge=0, le=600_000)] = 0
    Probability: Probability = 100


class ChaosTriggers(msgspec.Struct, forbid_unknown_fields=True):
    """GET /api/v1/chaos answers it; PUT takes it and answers the result.

    As in Mailpit, a trigger left out of a PUT is reset to probability 0. `Seed` (ext) makes
    the random draws repeatable; probability 0 and 100 never draw at all.
    """

    Authentication: ChaosTrigger = msgspec.field(default_factory=ChaosTrigger)
    Sender: ChaosTrigger = msgspec.field(default_factory=ChaosTrigger)
    Recipient: ChaosTrigger = msgspec.field(default_factory=ChaosTrigger)
    Data: ChaosTrigger = msgspec.field(default_factory=ChaosTrigger)
    Disconnect: ChaosDisconnect = msgspec.field(default_factory=ChaosDisconnect)
    Latency: ChaosLatency = msgspec.field(default_factory=ChaosLatency)
    Seed: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | None = None
