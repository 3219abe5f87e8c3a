"""parse.py on messages built with the stdlib, each encoding as a sender really produces it."""

from __future__ import annotations

from collections.abc import Callable
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devmail.codes import find_codes, find_links, scan_html
from devmail.mime import INGEST_PARSER, plain_params
from devmail.parse import address_pairs, parse, part_bytes

from .conftest import code_mail


def test_acctkit_code_mail_gives_code_flow_ref_and_seq() -> None:
    parsed = parse(code_mail(code="042917", flow="signup", ref="sg_abc", seq=2).as_bytes())
    assert parsed.codes == ("042917",)
    assert (parsed.flow, parsed.ref, parsed.ref_seq) == ("signup", "sg_abc", 2)
    assert parsed.subject == "Your acctkit code: 042917"
    assert parsed.text.startswith("Your verification code is 042917.")
    assert "<strong>042917</strong>" in parsed.html
    assert parsed.snippet == "Your verification code is 042917. It expires in 10 minutes."


def test_reset_link_found_in_text_and_html_once() -> None:
    link = "http://127.0.0.1:8000/reset-password/Zx9_k-2Qm41"
    message = EmailMessage()
    message["Subject"] = "Reset your acctkit password"
    message.set_content(f"Open this link within 5 minutes:\n\n{link}\n\nThe link works once.\n")
    message.add_alternative(
        f'<p><a href="{link}">Choose a new password</a>. Or paste: {link}.</p>'
        '<p><a href="mailto:help@example.com">help</a> <a href="javascript:x()">x</a></p>',
        subtype="html",
    )
    parsed = parse(message.as_bytes())
    assert parsed.links == (link,)
    assert parsed.codes == ()


def test_quoted_printable_and_base64_bodies_are_decoded() -> None:
    message = EmailMessage()
    message["Subject"] = "encodings"
    message.set_content("caf\u00e9 " * 30 + "code 123456\n", cte="quoted-printable")
    message.add_alternative("<p>na\u00efve <b>code</b> 654321</p>", subtype="html", cte="base64")
    raw = message.as_bytes()
    assert b"=C3=A9" in raw and b"caf\xc3\xa9" not in raw
    parsed = parse(raw)
    assert parsed.text.startswith("caf\u00e9 caf\u00e9")
    assert parsed.html == "<p>na\u00efve <b>code</b> 654321</p>\n"
    assert parsed.codes == ("123456", "654321")


def test_rfc2047_headers_are_decoded() -> None:
    raw = (
        b"From: =?utf-8?q?Zo=C3=AB_M=C3=BCller?= <zoe@example.com>\r\n"
        b"To: =?iso-8859-1?q?J=F6rg?= <jorg@example.com>, plain@example.com\r\n"
        b"Subject: =?utf-8?b?w6l0w6kgLSDmvKLlrZc=?=\r\n"
        b"\r\nbody\r\n"
    )
    parsed = parse(raw)
    assert parsed.from_ is not None
    assert (parsed.from_.name, parsed.from_.address) == ("Zo\u00eb M\u00fcller", "zoe@example.com")
    assert [(a.name, a.address) for a in parsed.to] == [
        ("J\u00f6rg", "jorg@example.com"),
        ("", "plain@example.com"),
    ]
    assert parsed.subject == "\u00e9t\u00e9 - \u6f22\u5b57"


def test_raw_utf8_headers_and_8bit_body() -> None:
    raw = (
        "From: Zo\u00eb <zo\u00eb@exampl\u00e9.com>\r\nTo: b@example.com\r\n"
        "Subject: caf\u00e9 code\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nVotre code: 778899 \u2014 merci\r\n"
    ).encode()
    parsed = parse(raw)
    assert parsed.subject == "caf\u00e9 code"
    assert parsed.from_ is not None and parsed.from_.address == "zo\u00eb@exampl\u00e9.com"
    assert parsed.text == "Votre code: 778899 \u2014 merci\n"
    assert parsed.codes == ("778899",)


def test_attachments_and_inline_parts_are_listed_with_part_ids() -> None:
    message = EmailMessage()
    message["Subject"] = "files"
    message.set_content("see attached")
    message.add_alternative('<p>logo <img src="cid:logo1"></p>', subtype="html")
    html_part = message.get_payload()[1]
    html_part.add_related(b"\x89PNG" + b"\x00" * 96, "image", "png", cid="<logo1>")
    message.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="data.csv")
    message.add_attachment(
        b"\x00" * 3000, maintype="application", subtype="pdf", filename="r\u00e9sum\u00e9.pdf"
    )
    parsed = parse(message.as_bytes())
    assert parsed.text == "see attached\n"
    assert [(a.file_name, a.content_type, a.size, a.part_id) for a in parsed.attachments] == [
        ("data.csv", "text/csv", 8, "2"),
        ("r\u00e9sum\u00e9.pdf", "application/pdf", 3000, "3"),
    ]
    assert [(a.content_id, a.content_type, a.size) for a in parsed.inline] == [
        ("logo1", "image/png", 100)
    ]


def test_acctkit_headers_tolerate_missing_and_bad_values() -> None:
    parsed = parse(code_mail(flow=None, ref=None, seq=None).as_bytes())
    assert (parsed.flow, parsed.ref, parsed.ref_seq) == (None, None, None)
    raw = b"X-Acctkit-Flow: signup\r\nX-Acctkit-Ref: r1\r\nX-Acctkit-Seq: two\r\n\r\nx\r\n"
    assert parse(raw).ref_seq is None
    # past int64 (SQLite, MessagePack and Go's JSON decoder): no number at all, not a wrong one
    for seq, expected in ((b"9223372036854775807", 2**63 - 1), (b"9223372036854775808", None)):
        assert parse(raw.replace(b"two", seq)).ref_seq == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe\x00garbage without headers",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nno end",
        b"To: <<<@@@>>>, \r\nFrom: \r\nDate: not a date\r\n\r\n",
        b"Content-Type: text/plain; charset=x-unknown\r\n\r\nbody 1234 code\r\n",
        # RFC 2231 pieces mixed up: the stdlib raises TypeError for these (devmail answered
        # 451 to every try of such a mail, and logged a traceback each time).
        b"Content-Type: multipart/alternative; boundary*=a; boundary*0=b\r\n\r\nbody\r\n",
        b"Content-Type: text/plain; charset*=a; charset*0=b\r\n\r\nbody\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
        b"Content-Disposition: attachment; filename*=a; filename*0=b\r\n\r\nfile\r\n--x--\r\n",
    ],
)
def test_malformed_mail_is_still_parsed(raw: bytes) -> None:
    parsed = parse(raw)
    assert isinstance(parsed.subject, str)
    assert parsed.date is None


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Your verification code is 042917. It expires in 10 minutes.", ["042917"]),
        ("042917 is your acctkit code", ["042917"]),
        ("Your OTP: 1234", ["1234"]),
        ("Passcode 12345678 (one use)", ["12345678"]),
        ("Your code:\n\n   0042", ["0042"]),
        ("Enter the code 111111, or the older code 222222", ["111111", "222222"]),
        ("Order 123456 shipped on 2024-05-01.", []),
        ("\u00a9 2024 acctkit. Didn't ask for a code? Ignore it.", []),
        ("Call +1 555 0100 about your code", []),
        ("code valid until 2024-05-01 12:30", []),
        ("Verification: see 01/05/2024", []),
        ("Your code is 123", []),
        ("Your code is 123456789", []),
        ("Your code is abc123456", []),
        ("Your code: http://x.test/verify/123456 click", []),
        ("reference 5551234, total 12.3456 EUR, code follows", []),
    ],
)
def test_find_codes(text: str, codes: list[str]) -> None:
    assert find_codes([text]) == codes


def test_find_links_strips_trailing_punctuation_only() -> None:
    text = (
        "See https://example.com/a?b=1&c=2. Also (http://x.test/p) and "
        "https://en.wikipedia.org/wiki/Foo_(bar), not ftp://x.test or http://."
    )
    assert find_links(text) == [
        "https://example.com/a?b=1&c=2",
        "http://x.test/p",
        "https://en.wikipedia.org/wiki/Foo_(bar)",
    ]


def test_scan_html_skips_style_and_unescapes_hrefs() -> None:
    view = scan_html(
        "<html><head><style>p{color:red}</style><title>t</title></head><body>"
        "<p>Code&nbsp;is <strong>1234</strong></p><a href='https://x.test/?a=1&amp;b=2'>go</a>"
        "</body></html>"
    )
    assert view.links == ("https://x.test/?a=1&b=2",)
    assert "color" not in view.text
    assert "Code\xa0is 1234" in view.text


ADDRESS_HEADERS = [
    "acctkit <no-reply@localhost>",
    "user0@example.com",
    "a@b, c@d",
    "Sender Name <s@example.com>",
    " x@y ",
    "Sender  Name <s@e.com>",
    "a@b,",
    ",a@b",
    "",
    "<a@b>",
    "Name<a@b>",
    '"Q" <a@b>',
    "a..b@c",
    ".a@b",
    "J. Smith <a@b>",
    "a@b (c)",
    "Grp: a@b;",
    "x <a@b>, y <c@d>",
    "a@b c",
    "foo <a@b",
    "a <b@c> d",
    "=?utf-8?q?J=C3=B6rg?= <j@example.com>",
    "Zo\u00eb <zo\u00eb@exampl\u00e9.com>",
]


@pytest.mark.parametrize("value", ADDRESS_HEADERS)
def test_plain_addresses_are_read_as_the_stdlib_reads_them(value: str) -> None:
    assert address_pairs([value]) == getaddresses([value])


# Headers built the way addresses are, from plain and odd parts, so both paths come up often.
_NAMES = ["", "Ann", "x y", "x  y", '"Q, R"', "J. S", "=?utf-8?q?J=C3=B6rg?=", "\u00e9", "a(b)"]
_SPECS = ["a@b", "Ann.Lee@Example.COM", "a..b@c", ".a@b", "@b", "a@", "a b@c", "\u00e9@x"]
_SHAPES = ["{s}", "{n} <{s}>", "{n}<{s}>", "<{s}>", " {s}\t", "{n} <{s}", "{s} ({n})", "g: {s};"]
addresses = st.builds(
    str.format, st.sampled_from(_SHAPES), n=st.sampled_from(_NAMES), s=st.sampled_from(_SPECS)
)
header_values = st.lists(addresses, max_size=3).flatmap(
    lambda items: st.sampled_from([",", ", ", ",,"]).map(lambda comma: comma.join(items))
)


@settings(max_examples=500, deadline=None)
@given(st.lists(header_values, min_size=1, max_size=3))
def test_any_address_header_is_read_as_the_stdlib_reads_it(values: list[str]) -> None:
    assert address_pairs(values) == getaddresses(values)


# Content-Type values built from plain and odd parts, so both the one-regex path and compat32's
# own come up often: RFC 2231 names, backslashes, comments, bare words, folds, odd spaces.
_TYPES = ["text/plain", "multipart/alternative", " Text/HTML ", "", "x", "a=b", "t/p (c)"]
_PARAM_NAMES = ["charset", "CharSet", "boundary", "name", "start", "a b", ""] + [
    f"{name}*{n}" for name in ("name", "charset", "filename", "boundary") for n in ("", "0", "1*")
]
_PARAM_VALUES = [
    "utf-8",
    '"utf-8"',
    '"===============123=="',
    '""',
    '"a;b"',
    '"a\\"b"',
    '"<x>"',
    "<x>",
    "us-ascii (c)",
    "a b",
    "=x",
    "'a'",
    "\u00e9",
    "x\udcff",
    "",
]
_SPACES = ["", " ", "\t", "\r\n ", "\n\t", "\u00a0", "\x1c"]
content_params = st.builds(
    "{s1};{s2}{n}{s3}={s4}{v}{s5}".format,
    s1=st.sampled_from(_SPACES),
    s2=st.sampled_from(_SPACES),
    n=st.sampled_from(_PARAM_NAMES),
    s3=st.sampled_from(_SPACES),
    s4=st.sampled_from(_SPACES),
    v=st.sampled_from(_PARAM_VALUES),
    s5=st.sampled_from(_SPACES),
)
content_types = st.builds(
    lambda kind, params, end: kind + "".join(params) + end,
    st.sampled_from(_TYPES),
    st.lists(content_params | st.sampled_from([";", "; bare", ";;"]), max_size=4),
    st.sampled_from(["", ";", " ", "; "]),
)


@settings(max_examples=1500, deadline=None)
@given(content_types, st.sampled_from(["charset", "boundary", "NAME", "start", "text/plain", ""]))
def test_content_type_parameters_are_read_as_compat32_reads_them(value: str, name: str) -> None:
    raw = f"Content-Type: {value}\r\n\r\nbody\r\n".encode("utf-8", "surrogateescape")
    ours = _answer(INGEST_PARSER.parsebytes, raw)
    theirs = _answer(BytesParser(policy=policy.compat32).parsebytes, raw)
    if not isinstance(ours, Message) or not isinstance(theirs, Message):
        assert ours == theirs  # both raised, alike (the feed parser asks for the boundary)
        return
    missing = object()
    for question in (
        lambda m: m.get_param(name, missing),
        lambda m: m.get_content_charset("none"),
        lambda m: m.get_boundary("none"),
    ):
        assert _answer(question, ours) == _answer(question, theirs)


def _answer(question: Callable[[Any], object], msg: Any) -> object:
    """What `question` returns, or the type of what it raises (compat32 itself raises on some
    RFC 2231 mixes; the fast path must hand those to it, not answer them)."""
    try:
        return question(msg)
    except Exception as exc:
        return type(exc)


def test_plain_content_types_take_the_one_regex_path() -> None:
    """The fast path is taken for what mail is made of, so it must be what the test compares."""
    for value in (
        'text/plain; charset="utf-8"',
        "text/html; charset=us-ascii",
        'multipart/alternative;\r\n boundary="===============5647379436463452128=="',
        'multipart/related; type="text/html"; start="<a@b>"; boundary=xyz',
    ):
        assert plain_params(value) is not None, value
    for value in ("text/plain; name*=utf-8''x", 'text/plain; name="a\\"b"', "text/plain; bare"):
        assert plain_params(value) is None, value


@settings(max_examples=500, deadline=None)
@given(st.lists(content_params, max_size=3), content_types, content_types)
def test_no_content_type_or_disposition_makes_parse_raise(
    top: list[str], part: str, how: str
) -> None:
    raw = (
        f"Subject: s\r\nContent-Type: multipart/mixed; boundary=x{''.join(top)}\r\n\r\n"
        f"--x\r\nContent-Type: {part}\r\n"
        f"Content-Disposition: attachment{how}\r\n\r\nYour code is 123456\r\n--x--\r\n"
    ).encode("utf-8", "surrogateescape")
    parsed = parse(raw)
    assert parsed.subject == "s"
    # part_bytes (downloads) takes the same mail apart again: a part, or no such part
    assert part_bytes(raw, "1") is None or isinstance(part_bytes(raw, "1"), tuple)
