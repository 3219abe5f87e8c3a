"""What a valid username, email address, name and password look like. Shared by signup, profile
edits, password reset and password change, so every flow rejects the same things for the same
reasons. Each check returns reasons per field; the caller raises one InvalidInput with them all."""

from __future__ import annotations

import functools
import gzip
import re
import unicodedata
from email.errors import HeaderParseError
from email.headerregistry import Address
from importlib.resources import files

import disarm

USERNAME_RE = re.compile(r"^[\w.@+-]+\Z")
USERNAME_MAX = 150
NAME_MAX = 150
EMAIL_MAX = 254
PASSWORD_MAX = 1024

# A DNS host name's label (RFC 1123), after IDNA: what a mail domain can actually be.
DOMAIN_LABEL_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")

FieldErrors = dict[str, list[str]]


def casefold_key(value: str) -> str:
    """The key that makes two spellings of one name collide: NFKC, then casefold."""
    return unicodedata.normalize("NFKC", value).casefold()


def skeleton(username: str) -> str:
    """The UTS #39 confusable skeleton (disarm's, with TR39's 1/l/I and 0/O classes). Usernames
    with one skeleton look alike (`admin`, and `admin` spelt with a Cyrillic a or a dotless i),
    so they are one username. A stored skeleton is a key, never shown."""
    return disarm.skeleton_key(username, digit_policy="tr39")


# Uniqueness compares the NFKC casefolded key, and the key is what the unique index holds in a
# column as long as the field: a name of 9 characters can be 162 once spelt out (U+FDFA is 18
# letters, ß is ss), which PostgreSQL refused with a 500. So the spelt-out form must fit too.
_SPELT_OUT = (
    "Ensure this field has no more than {} characters when written out in full "
    "(ß counts as ss, a ligature as its letters)."
)


def username_problems(username: str) -> list[str]:
    if not username:
        return ["This field may not be blank."]
    problems = []
    if len(username) > USERNAME_MAX:
        problems.append(f"Ensure this field has no more than {USERNAME_MAX} characters.")
    elif len(casefold_key(username)) > USERNAME_MAX:
        problems.append(_SPELT_OUT.format(USERNAME_MAX))
    if not USERNAME_RE.match(username):
        problems.append("Use only letters, digits and the characters @ . + - _.")
    elif not skeleton(username):
        problems.append("Use letters or digits that can be seen.")
    return problems


def normalise_email(email: str) -> str:
    """Trim, lowercase the domain (it is case-insensitive) and keep the local part as typed."""
    email = email.strip()
    local, at, domain = email.rpartition("@")
    return f"{local}{at}{domain.lower()}" if at else email


def email_problems(email: str) -> list[str]:
    if not email:
        return ["This field may not be blank."]
    if len(email) > EMAIL_MAX:
        return [f"Ensure this field has no more than {EMAIL_MAX} characters."]
    try:
        address = Address(addr_spec=email)
    except (HeaderParseError, ValueError, IndexError):
        return ["Enter a valid email address."]
    domain = address.domain
    if (
        address.addr_spec != email
        or not address.username
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or any(ch.isspace() for ch in email)
    ):
        return ["Enter a valid email address."]
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return ["Enter a valid email address."]
    if not all(DOMAIN_LABEL_RE.match(label) for label in ascii_domain.split(".")):
        return ["Enter a valid email address."]
    if len(casefold_key(email)) > EMAIL_MAX:
        return [_SPELT_OUT.format(EMAIL_MAX)]
    return []


def name_problems(name: str) -> list[str]:
    if not name.strip():
        return ["This field may not be blank."]
    if len(name) > NAME_MAX:
        return [f"Ensure this field has no more than {NAME_MAX} characters."]
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return ["Control characters are not allowed."]
    return []


@functools.cache
def common_passwords() -> frozenset[str]:
    """Django's list of 19,640 common passwords (see core/data/LICENSE.common-passwords)."""
    data = files("core").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(line.strip() for line in gzip.decompress(data).decode().splitlines())


def password_problems(
    password: str, *, min_length: int, username: str = "", email: str = ""
) -> list[str]:
    """Every reason the password is refused. The password is never trimmed or case-changed."""
    problems = []
    if len(password) < min_length:
        problems.append(
            f"This password is too short. It must contain at least {min_length} characters."
        )
    if len(password) > PASSWORD_MAX:
        problems.append(f"This password is too long: at most {PASSWORD_MAX} characters.")
    lowered = password.casefold()
    if lowered in common_passwords() or lowered.strip() in common_passwords():
        problems.append("This password is too common.")
    if password.isdigit():
        problems.append("This password is entirely numeric.")
    for label, value in (("username", username), ("email address", email.rpartition("@")[0])):
        key = value.casefold()
        if len(key) >= 3 and key in lowered:
            problems.append(f"The password is too similar to the {label}.")
    return problems
