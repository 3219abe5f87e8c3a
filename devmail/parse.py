"""Turn the raw bytes of a message into what a developer needs to see.

All MIME work (transfer encodings, charsets, RFC 2047 words, multipart trees) is left to the
standard library's `email` package, read the ways devmail/mime.py says; this module only decides
what to keep. A message that the library cannot fully make sense of is still kept: every step
falls back to something readable instead of raising, because a catcher that drops the odd mail
hides bugs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses
from functools import cached_property

from devmail.codes import find_codes, find_links, scan_html
from devmail.mime import DOWNLOAD_PARSER, INGEST_PARSER, parse_header

SNIPPET_CHARS = 250

FLOW_HEADER = "X-Acctkit-Flow"
REF_HEADER = "X-Acctkit-Ref"
SEQ_HEADER = "X-Acctkit-Seq"
REQUEST_ID_HEADER = "X-Acctkit-Request-ID"


@dataclass(frozen=True)
class Address:
    name: str
    address: str


@dataclass(frozen=True)
class Attachment:
    part_id: str
    file_name: str
    content_type: str
    content_id: str
    size: int


@dataclass(frozen=True)
class ParsedMessage:
    """The decoded view of one message; the raw bytes stay the source of truth."""

    message_id: str
    from_: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    return_path: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...]
    inline: tuple[Attachment, ...]
    raw_headers: tuple[tuple[str, str], ...]
    snippet: str
    codes: tuple[str, ...]
    links: tuple[str, ...]
    flow: str | None
    ref: str | None
    ref_seq: int | None
    request_id: str | None = None
    # The text and HTML parts carry different codes or links: which one did the person read?
    parts_mismatch: bool = False
    # What the HTML part shows as text, for search: scanning a big HTML part costs seconds,
    # so it is done once, here, not on the loop at the first search.
    html_text: str = ""

    @cached_property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Decoded on first use: most mail is never opened, and decoding all headers costs."""
        return tuple(
            (_clean(name), _decode_header(name, value)) for name, value in self.raw_headers
        )

    @cached_property
    def date(self) -> datetime | None:
        """In UTC; None when the Date cannot be read, or is no UTC time (9999-12-31 -2359)."""
        for name, value in self.raw_headers:
            if name.lower() == "date":
                try:
                    found: datetime | None = getattr(parse_header(name, value), "datetime", None)
                    if found is None:
                        return None
                    if found.tzinfo is None:
                        found = found.replace(tzinfo=UTC)
                    return found.astimezone(UTC)
                except Exception:
                    return None
        return None


def parse(raw: bytes) -> ParsedMessage:
    """Decode `raw`; never raises for malformed mail (it is what devmail exists to show).

    Only what a summary needs is decoded here: the headers it shows (RFC 2047 words, folded
    lines), the text and HTML bodies, the attachments. The full header list and the date are
    decoded by the modern policy when first read (ParsedMessage.headers and .date).
    """
    try:
        msg = INGEST_PARSER.parsebytes(raw)
        text_part = _body(msg, "plain")
        html_part = _body(msg, "html")
        text = _text_of(text_part) if text_part is not None else ""
        html = _text_of(html_part) if html_part is not None else ""
        attachments, inline = _attachments(msg, {id(text_part), id(html_part)})
    except Exception:  # the stdlib gave up on the MIME structure (RFC 2231 pieces mixed up)
        msg = INGEST_PARSER.parsebytes(raw, headersonly=True)
        text, html, attachments, inline = _flat_body(raw), "", (), ()
    raw_headers = tuple(_raw_items(msg))
    top = _by_name(raw_headers)
    html_view = scan_html(html)
    subject = _header_text(top, "subject")
    text_links = find_links(text)
    html_links = _unique([*html_view.links, *find_links(html_view.text)])
    text_codes, html_codes = find_codes([text]), find_codes([html_view.text])
    return ParsedMessage(
        message_id=_header_text(top, "message-id").strip().strip("<>"),
        from_=next(iter(_addresses(top, "from")), None),
        to=_addresses(top, "to"),
        cc=_addresses(top, "cc"),
        bcc=_addresses(top, "bcc"),
        reply_to=_addresses(top, "reply-to"),
        return_path=_header_text(top, "return-path").strip().strip("<>"),
        subject=subject,
        text=text,
        html=html,
        attachments=attachments,
        inline=inline,
        raw_headers=raw_headers,
        snippet=_snippet(text or html_view.text),
        codes=tuple(_unique([*find_codes([subject]), *text_codes, *html_codes])),
        links=tuple(_unique([*text_links, *html_links])),
        flow=_header_text(top, FLOW_HEADER).strip() or None,
        ref=_header_text(top, REF_HEADER).strip() or None,
        ref_seq=_int_or_none(_header_text(top, SEQ_HEADER)),
        request_id=_header_text(top, REQUEST_ID_HEADER).strip() or None,
        parts_mismatch=bool(text and html)
        and (set(text_codes) != set(html_codes) or set(text_links) != set(html_links)),
        html_text=html_view.text,
    )


# --- headers ---------------------------------------------------------------------------------


def _clean(value: str) -> str:
    """Undo surrogate escapes: raw 8-bit (SMTPUTF8) headers arrive that way from the parser."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _safe_str(value: object) -> str:
    try:
        return _clean(str(value))
    except Exception:
        return ""


def _raw_items(msg: Message) -> list[tuple[str, str]]:
    return [(name, str(value)) for name, value in msg.raw_items()]  # type: ignore[attr-defined]


def _decode_header(name: str, value: str) -> str:
    try:
        return _safe_str(parse_header(name, value))
    except Exception:
        return _clean(value)


_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _by_name(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The source values of each header under its lower-cased name, looked through once."""
    found: dict[str, list[str]] = {}
    for name, value in items:
        found.setdefault(name.lower(), []).append(value)
    return found


def _raw_values(headers: dict[str, list[str]], name: str) -> list[str]:
    """The unfolded source values of every `name` header, 8-bit text made readable."""
    return [_unfolded(value) for value in headers.get(name.lower(), ())]


def _unfolded(value: str) -> str:
    if "\n" in value:
        value = _FOLD.sub("", value)
    return value if value.isascii() else _clean(value)  # ASCII has no surrogates to undo


def _words(value: str) -> str:
    """RFC 2047 encoded words decoded; text that is not an encoded word is kept as it is."""
    if "=?" not in value:
        return value
    try:
        return _clean(str(make_header(decode_header(value))))
    except Exception:
        return value


def _header_text(headers: dict[str, list[str]], name: str) -> str:
    values = _raw_values(headers, name)
    return _words(values[0]).strip() if values else ""


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*"
# `local@domain` or `Some Name <local@domain>`: plain ASCII atoms, one space between words.
_PLAIN_ADDRESS = re.compile(rf"[ \t]*(?:({_SPEC})|((?:{_ATOM} )*{_ATOM}) ?<({_SPEC})>)[ \t]*")


def address_pairs(values: list[str]) -> list[tuple[str, str]]:
    """(display name, address) for each address in `values`, as `email.utils.getaddresses`.

    Most mail names its people plainly, and the stdlib's RFC 5322 parser costs about 25 us
    per header; plain ones are matched here, anything else (quotes, comments, groups,
    encoded words, non-ASCII) goes to the stdlib. tests/devmail/test_parse.py compares both.
    """
    pairs: list[tuple[str, str]] = []
    for value in values:
        for item in value.split(","):
            match = _PLAIN_ADDRESS.fullmatch(item)
            if match is None:
                return getaddresses(values)
            if match.group(1):
                pairs.append(("", match.group(1)))
            else:
                pairs.append((match.group(2), match.group(3)))
    return pairs


def _addresses(headers: dict[str, list[str]], name: str) -> tuple[Address, ...]:
    found: list[Address] = []
    values = _raw_values(headers, name)
    if not values:
        return ()
    try:
        pairs = address_pairs(values)
    except Exception:
        return ()
    for display, spec in pairs:
        if spec:
            found.append(Address(_words(display), _words(spec)))
    return tuple(found)


_INT_MAX = 2**63 - 1  # what SQLite, MessagePack and a Go client's int64 all hold


def _int_or_none(value: str) -> int | None:
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= _INT_MAX else None


# --- bodies and attachments --------------------------------------------------------------------


def _body(msg: Message, subtype: str) -> Message | None:
    """The part `EmailMessage.get_body(preferencelist=(subtype,))` picks, on a compat32 tree."""
    try:
        return next(_bodies(msg, subtype), None)
    except Exception:
        return None


def _bodies(part: Message, subtype: str) -> Iterator[Message]:
    if part.get_content_disposition() == "attachment":
        return
    maintype, found = part.get_content_maintype(), part.get_content_subtype()
    if maintype == "text":
        if found == subtype:
            yield part
        return
    if maintype != "multipart" or not part.is_multipart():
        return
    children = part.get_payload()
    if not isinstance(children, list):
        return
    if found != "related":
        for child in children:
            yield from _bodies(child, subtype)
        return
    start = part.get_param("start")
    candidate = next((c for c in children if start and c.get("content-id") == start), None)
    if candidate is None and children:
        candidate = children[0]
    if candidate is not None:
        yield from _bodies(candidate, subtype)


def _text_of(part: Message) -> str:
    """The decoded body with SMTP's CRLF line ends made plain newlines (/raw keeps them)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        content = payload.decode(part.get_content_charset("ascii"), "replace")
    except (LookupError, ValueError):
        content = payload.decode("utf-8", "replace")
    return content.replace("\r\n", "\n")


def _flat_body(raw: bytes) -> str:
    """Everything after the headers as text: what is left to show of a message whose MIME
    structure the stdlib cannot take apart."""
    return raw.replace(b"\r\n", b"\n").partition(b"\n\n")[2].decode("utf-8", "replace")


def _leaves(part: Message, path: str) -> Iterator[tuple[str, Message]]:
    """Yield (PartID, part) for every non-container part, numbering like IMAP body sections."""
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        yield path or "1", part
        return
    children = part.get_payload()
    if not isinstance(children, list):
        return
    for index, child in enumerate(children, start=1):
        yield from _leaves(child, f"{path}.{index}" if path else str(index))


def _attachments(
    msg: Message, body_parts: set[int]
) -> tuple[tuple[Attachment, ...], tuple[Attachment, ...]]:
    attachments: list[Attachment] = []
    inline: list[Attachment] = []
    try:
        leaves = list(_leaves(msg, ""))
    except Exception:
        return (), ()
    for part_id, part in leaves:
        if id(part) in body_parts or part is msg:
            continue
        file_name = _clean(part.get_filename() or "")
        disposition = part.get_content_disposition()
        content_id = _safe_str(part.get("content-id", "")).strip().strip("<>")
        is_plain_body = part.get_content_maintype() == "text" and not file_name
        if is_plain_body and disposition != "attachment":
            continue
        found = Attachment(
            part_id=part_id,
            file_name=file_name,
            content_type=part.get_content_type(),
            content_id=content_id,
            size=_decoded_size(part),
        )
        (inline if content_id and disposition != "attachment" else attachments).append(found)
    return tuple(attachments), tuple(inline)


def part_bytes(raw: bytes, part_id: str) -> tuple[str, str, bytes] | None:
    """The decoded bytes of one part, with its content type and file name, for downloads."""
    try:
        msg = DOWNLOAD_PARSER.parsebytes(raw)
        for found_id, part in _leaves(msg, ""):
            if found_id == part_id:
                return part.get_content_type(), _clean(part.get_filename() or ""), _payload(part)
    except Exception:  # a structure parse() could not take apart either: it listed no parts
        return None
    return None


# An attached message written back as it came over SMTP: CRLF, each header line as sent.
_WIRE = policy.default.clone(linesep="\r\n", refold_source="none")


def _payload(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        # The attached message alone: `part.as_bytes()` put the wrapper's own headers on top.
        attached = part.get_payload()
        if not isinstance(attached, list) or not attached:
            return b""
        try:
            return attached[0].as_bytes(policy=_WIRE)
        except Exception:
            return b""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _decoded_size(part: Message) -> int:
    try:
        return len(_payload(part))
    except Exception:
        return 0


def _snippet(text: str) -> str:
    return " ".join(text.split())[:SNIPPET_CHARS]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
