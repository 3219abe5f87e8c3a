"""The kinds of string the accounts API takes, each declared once with what it publishes.

A field type carries the limits and patterns the OpenAPI document shows. Types and characters are
enforced by the server's decoder; the limits are published here but enforced by core, which knows
every reason a value is refused and reports all fields at once (a decoder stops at the first).
The numbers are core's own (tests/contract checks that they agree).

A limit that a setting decides names that setting (`x-minLength-from`): the document builder
writes the running value in its place, so ACCTKIT_PASSWORD_MIN_LENGTH=12 publishes 12.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from msgspec import Meta

NAME_MAX = 150
USERNAME_MAX = 150
EMAIL_MAX = 254
PASSWORD_MAX = 1024
PASSWORD_MIN_DEFAULT = 8

# Printable text: no C0/C1 control characters (NUL, ESC, DEL, ...). Spaces and any other Unicode
# are allowed, as NIST SP 800-63B asks for passwords. The document publishes this pattern; the
# decoder enforces it, and lone surrogates besides (JSON can carry "\ud800", UTF-8 cannot).
PRINTABLE = r"^[^\u0000-\u001f\u007f-\u009f]*$"
REFUSED_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
SETTING_KEY = "x-minLength-from"


def refused_character(value: str) -> str | None:
    """Why `value` cannot be taken, or None: one rule for every string of every body."""
    found = REFUSED_CHARACTER.search(value)
    if found is None:
        return None
    if "\ud800" <= found.group() <= "\udfff":
        return "Not valid Unicode (a lone surrogate)."
    return "Control characters are not allowed."


Text = Annotated[str, Meta(extra_json_schema={"pattern": PRINTABLE})]
"""Any printable string: ids, tokens, current passwords."""

Name = Annotated[
    str,
    Meta(
        extra_json_schema={"minLength": 1, "maxLength": NAME_MAX, "pattern": r"\S"},
        description="not blank; no control or format characters",
    ),
]
Username = Annotated[
    str,
    Meta(
        extra_json_schema={"minLength": 1, "maxLength": USERNAME_MAX, "pattern": r"^[\w.@+-]+$"},
        description="letters, digits and @ . + - _; unique case-insensitively",
    ),
]
Email = Annotated[
    str,
    Meta(
        extra_json_schema={"format": "email", "maxLength": EMAIL_MAX, "pattern": PRINTABLE},
        description="unique case-insensitively",
    ),
]
NewPassword = Annotated[
    str,
    Meta(
        extra_json_schema={
            "minLength": PASSWORD_MIN_DEFAULT,
            "maxLength": PASSWORD_MAX,
            SETTING_KEY: "ACCTKIT_PASSWORD_MIN_LENGTH",
            "pattern": PRINTABLE,
        },
        description="never trimmed; not common, not entirely numeric, not like the username "
        "or the email's local part",
    ),
]
Code = Annotated[
    str,
    Meta(
        extra_json_schema={"pattern": r"^[ -]*([0-9][ -]*){6}$"},
        description="6 digits as a string (leading zeros matter); spaces and hyphens ignored. "
        "A JSON number is refused.",
    ),
]
Timestamp = Annotated[datetime, Meta(tz=True, extra_json_schema={"format": "date-time"})]
"""ISO 8601 in UTC with a Z suffix."""
