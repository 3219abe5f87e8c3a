"""What a developer looks for in a mail: one-time codes, links, and the visible text of HTML.

Kept apart from the MIME work in devmail.parse: these rules are about acctkit's mails (which
digits are a code, which URL is a link), not about the message format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit


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
