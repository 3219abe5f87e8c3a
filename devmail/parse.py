"""Turn the raw bytes of a message into what a developer needs to see.

All MIME work (transfer encodings, charsets, RFC 2047 words, multipart trees) is left to the
standard library's `email` package with `policy.default`; this module only decides what to keep.
A message that the library cannot fully make sense of is still kept: every step falls back to
something readable instead of raising, because a catcher that drops the odd mail hides bugs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses
from functools import cached_property
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

SNIPPET_CHARS = 250

FLOW_HEADER = "X-Acctkit-Flow"
REF_HEADER = "X-Acctkit-Ref"
SEQ_HEADER = "X-Acctkit-Seq"


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

    @cached_property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Decoded on first use: most mail is never opened, and decoding all headers costs."""
        return tuple(
            (_clean(name), _decode_header(name, value)) for name, value in self.raw_headers
        )

    @cached_property
    def date(self) -> datetime | None:
        for name, value in self.raw_headers:
            if name.lower() == "date":
                try:
                    found: datetime | None = getattr(_parse_header(name, value), "datetime", None)
                except Exception:
                    return None
                if found is not None and found.tzinfo is None:
                    found = found.replace(tzinfo=UTC)
                return found
        return None


class _CachingPolicy(EmailPolicy):
    """`policy.default`, except each distinct header value is parsed once.

    The stdlib re-parses a header (and builds a new header class) on every access, and a
    MIME walk reads Content-Type dozens of times: that made parsing cost most of devmail's
    ingest time. Header objects are immutable strings, so sharing them is safe.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value
        return _parse_header(name, value)


@functools.lru_cache(maxsize=8192)
def _parse_header(name: str, value: str) -> Any:
    return policy.default.header_fetch_parse(name, value)


_PARSER = BytesParser(policy=_CachingPolicy())


def parse(raw: bytes) -> ParsedMessage:
    """Decode `raw`; never raises for malformed mail (it is what devmail exists to show)."""
    msg = _PARSER.parsebytes(raw)
    text_part = _body(msg, "plain")
    html_part = _body(msg, "html")
    text = _text_of(text_part) if text_part is not None else ""
    html = _text_of(html_part) if html_part is not None else ""
    attachments, inline = _attachments(msg, {id(text_part), id(html_part)})
    html_view = scan_html(html)
    subject = _header_text(msg, "subject")
    return ParsedMessage(
        message_id=_header_text(msg, "message-id").strip().strip("<>"),
        from_=next(iter(_addresses(msg, "from")), None),
        to=_addresses(msg, "to"),
        cc=_addresses(msg, "cc"),
        bcc=_addresses(msg, "bcc"),
        reply_to=_addresses(msg, "reply-to"),
        return_path=_header_text(msg, "return-path").strip().strip("<>"),
        subject=subject,
        text=text,
        html=html,
        attachments=attachments,
        inline=inline,
        raw_headers=tuple(_raw_items(msg)),
        snippet=_snippet(text or html_view.text),
        codes=tuple(find_codes([subject, text, html_view.text])),
        links=tuple(_unique([*find_links(text), *html_view.links, *find_links(html_view.text)])),
        flow=_header_text(msg, FLOW_HEADER).strip() or None,
        ref=_header_text(msg, REF_HEADER).strip() or None,
        ref_seq=_int_or_none(_header_text(msg, SEQ_HEADER)),
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
        return _safe_str(_parse_header(name, value))
    except Exception:
        return _clean(value)


def _header_text(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:
        return ""
    return "" if value is None else _safe_str(value)


def _addresses(msg: Message, name: str) -> tuple[Address, ...]:
    found: list[Address] = []
    try:
        headers = msg.get_all(name) or []
    except Exception:
        return ()
    for header in headers:
        try:
            for addr in header.addresses:
                found.append(Address(_clean(addr.display_name), _clean(addr.addr_spec)))
        except Exception:
            for display, spec in getaddresses([_safe_str(header)]):
                if spec:
                    found.append(Address(display, spec))
    return tuple(found)


def _int_or_none(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None


# --- bodies and attachments --------------------------------------------------------------------


def _body(msg: Message, subtype: str) -> Message | None:
    try:
        if isinstance(msg, EmailMessage):
            return msg.get_body(preferencelist=(subtype,))
    except Exception:
        return None
    return None


def _text_of(part: Message) -> str:
    """The decoded body with SMTP's CRLF line ends made plain newlines (/raw keeps them)."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except Exception:
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content.replace("\r\n", "\n") if isinstance(content, str) else ""


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
    msg = _PARSER.parsebytes(raw)
    for found_id, part in _leaves(msg, ""):
        if found_id == part_id:
            return part.get_content_type(), _clean(part.get_filename() or ""), _payload(part)
    return None


def _payload(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        try:
            return part.as_bytes()
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


# --- HTML ---------------------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {"address", "article", "br", "div", "footer", "h1", "h2", "h3", "h4", "h5", "h6"}
    | {"header", "hr", "li", "p", "pre", "section", "table", "td", "th", "tr"}
)


@dataclass(frozen=True)
class HtmlView:
    text: str
    links: tuple[str, ...]


class _HtmlScanner(HTMLParser):
    """Collects visible text (for codes, search, snippets) and http(s) hrefs in one pass."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")
        if tag in ("a", "area"):
            for name, value in attrs:
                if name == "href" and value and is_web_link(value.strip()):
                    self.links.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data)


def scan_html(html: str) -> HtmlView:
    if not html:
        return HtmlView("", ())
    scanner = _HtmlScanner()
    try:
        scanner.feed(html)
        scanner.close()
    except Exception:
        pass
    text = re.sub(r"[ \t\r\f\v]+", " ", "".join(scanner.chunks))
    text = re.sub(r"\s*\n\s*", "\n", text).strip()
    return HtmlView(text, tuple(_unique(scanner.links)))


# --- links and codes ------------------------------------------------------------------------------

_URL = re.compile(r"""https?://[^\s<>"'`{}|\\^\[\]]+""", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)>'\""


def is_web_link(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def find_links(text: str) -> list[str]:
    """http(s) URLs in plain text, without the sentence punctuation that often trails them."""
    links = []
    for match in _URL.finditer(text):
        url = match.group(0)
        while url and url[-1] in _URL_TRAILING:
            # Keep a closing parenthesis that belongs to the URL (Wikipedia-style links).
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
        if is_web_link(url):
            links.append(url)
    return _unique(links)


_KEYWORD = re.compile(
    r"\b(?:codes?|otp|passcodes?|pass\s+code|pin|verification|verify|one[-\s]time|2fa|mfa)\b",
    re.IGNORECASE,
)
# A run of 4 to 8 digits standing alone: not part of a word, a decimal or grouped number, a date
# (2024-05-01, 01/05/2024), a time or port (12:30, :8000), or a phone number (+44 ..., 555-0100).
_CANDIDATE = re.compile(r"(?<![\w+])(?<!\d[-./:,])(?<!\d )(\d{4,8})(?![\w+])(?![-./:,]\d)(?! \d)")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_CLAUSE_END = re.compile(r"[.!?,;:(](?:\s|$)")
CONTEXT_BEFORE = 60
CONTEXT_AFTER = 40


def find_codes(texts: Iterable[str]) -> list[str]:
    """One-time codes: 4-8 digit runs in the same sentence as a word like code/OTP/verification.

    Returned as strings in order of appearance, leading zeros kept. A keyword must appear
    within CONTEXT_BEFORE characters before the digits without a sentence end in between, or
    CONTEXT_AFTER after them in the same clause ("042917 is your code"), so that years, prices
    and order numbers elsewhere in a mail are not taken for codes. URLs are blanked out first.
    """
    codes: list[str] = []
    for text in texts:
        flat = " ".join(_URL.sub(" ", text).split())
        for match in _CANDIDATE.finditer(flat):
            before = flat[max(0, match.start() - CONTEXT_BEFORE) : match.start()]
            after = flat[match.end() : match.end() + CONTEXT_AFTER]
            before = _SENTENCE_END.split(before)[-1]
            after = _CLAUSE_END.split(after)[0]
            if _KEYWORD.search(before) or _KEYWORD.search(after):
                codes.append(match.group(1))
    return _unique(codes)
