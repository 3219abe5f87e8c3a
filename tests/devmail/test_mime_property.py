"""Any mail, however it is put together, goes through every step devmail takes with it without
an exception: parse, the parser process's wire, the search fields, the API's JSON for the
summary, the message and its headers, and each listed part's download.

Mail is built from pieces senders get wrong: encoded words that do not decode, charsets nobody
knows, transfer encodings that do not match the body, multiparts without their boundary, RFC
2231 parameters, 8-bit bytes in headers, nesting. A step that raises for one of them means an
SMTP client told 451 for ever, or a 500 from the API, for the odd mail devmail exists to show.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devmail import shapes
from devmail.message import Envelope, Stored, Summary, search_fields
from devmail.parse import ParsedMessage, parse, part_bytes

from .test_parse import content_types

TEXTS = [
    "Your code is 123456.",
    "plain",
    "",
    "=?utf-8?b?SsO2cmc=?=",
    "=?utf-8?q?J=C3=B6rg?= and =?x-unknown?q?x?=",
    "=?utf-8?b?###?=",
    "=?",
    "\u00e9t\u00e9 \u2603",
    "a\udcffb",
    "line\r\n continued",
    "x" * 300,
]
ADDRESSES = ["a@b", "Ann <ann@example.com>", "<<@>>", "", "=?utf-8?q?Zo=C3=AB?= <z@x>", "g: ;"]
ENCODINGS = ["", "7bit", "8bit", "base64", "quoted-printable", "x-junk", "BASE64"]
BODIES = [
    "Your code is 654321",
    "WW91ciBjb2RlIGlzIDExMTExMQ==",
    "not base64 !!!",
    "caf=C3=A9 =XX =\r\nsoft",
    "<p>Hello <a href='https://e.com/x?a=1&amp;b=2'>link</a></p>",
    "\u00ff\u00fe raw latin-1",
    "",
]
DISPOSITIONS = ["", "inline", "attachment", 'attachment; filename="r.pdf"', "attachment; x*=a"]


def _header(name: str, value: str) -> str:
    return f"{name}: {value}\r\n" if value or name == "Subject" else ""


@st.composite
def parts(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.sampled_from(["text/plain", "text/html", "application/pdf", "multipart"]))
    disposition = _header("Content-Disposition", draw(st.sampled_from(DISPOSITIONS)))
    if kind == "multipart" and depth < 2:
        boundary = f"b{depth}"
        sub = draw(st.sampled_from(["mixed", "alternative", "related"]))
        children = draw(st.lists(parts(depth + 1), min_size=0, max_size=3))
        body = "".join(f"--{boundary}\r\n{child}\r\n" for child in children)
        close = draw(st.sampled_from([f"--{boundary}--\r\n", ""]))  # or never closed
        head = f"Content-Type: multipart/{sub}; boundary={boundary}\r\n{disposition}"
        return f"{head}\r\n{body}{close}"
    charset = draw(st.sampled_from(["utf-8", "us-ascii", "x-unknown", "latin-1", ""]))
    ctype = draw(st.just(kind) | content_types)
    if charset and "/" in ctype:
        ctype = f"{ctype}; charset={charset}"
    encoding = _header("Content-Transfer-Encoding", draw(st.sampled_from(ENCODINGS)))
    return f"Content-Type: {ctype}\r\n{encoding}{disposition}\r\n{draw(st.sampled_from(BODIES))}"


@st.composite
def mails(draw: st.DrawFn) -> bytes:
    head = "".join(
        _header(name, draw(st.sampled_from(values)))
        for name, values in (
            ("From", ADDRESSES),
            ("To", ADDRESSES),
            ("Cc", ADDRESSES),
            ("Subject", TEXTS),
            ("Date", ["", "Wed, 25 Nov 2026 09:00:00 +0000", "not a date", "Thu, 31 Feb 2026"]),
            ("Message-ID", ["", "<m@x>", "<<>>"]),
            ("X-Acctkit-Ref", ["", "r1"]),
            ("X-Acctkit-Seq", ["", "2", "x", "-1", "99999999999999999999"]),
        )
    )
    return (head + draw(parts())).encode("utf-8", "surrogateescape")


_wire = msgspec.msgpack.Encoder()
_back = msgspec.msgpack.Decoder(ParsedMessage)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mails())
def test_any_mail_goes_through_every_step(raw: bytes) -> None:
    parsed = parse(raw)
    # the parser process's answer (one with lone surrogates it hands back, to be parsed in place)
    with contextlib.suppress(UnicodeEncodeError):
        assert _back.decode(_wire.encode(parsed)) == parsed
    stored = Stored(
        id="m1",
        seq=1,
        created=datetime(2026, 11, 25, tzinfo=UTC),
        size=len(raw),
        envelope=Envelope("s@x", ("r@x",)),
        parsed=parsed,
    )
    search_fields(stored)
    found = Summary(message=stored, read=False, superseded_by=None)
    headers = shapes.headers(found)
    for shape in (shapes.summary(found), shapes.message(found, headers), headers):
        msgspec.json.decode(msgspec.json.encode(shape))
    for listed in (*parsed.attachments, *parsed.inline):
        assert part_bytes(raw, listed.part_id) is not None, listed
