"""What a log line may say about a person: addresses are masked where real people's mail flows.

Secrets (codes, UIDs, tokens, passwords) are never handed to a logger at all; addresses are
useful while developing (which mail went where) and personal data in production, so production
logs keep only the first character of the local part and the domain, enough to tell a mail to
a colleague from one to a customer, not enough to name anyone.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from core.settings import Settings

MASK = "***"
# Anything shaped like local@domain inside free text (an SMTP reply quoting the recipient).
_ADDRESS = re.compile(r"[^\s<>()\[\]@\"',;:]+@[^\s<>()\[\]@\"',;:]+")
# What a mail carries: a link (the reset link), a token (its UID alone), a 6-digit code (not part
# of a longer number or of an enhanced status code such as 5.7.1).
_LINK = re.compile(r"[A-Za-z][\w+.-]*://[^\s<>\"'|]+")
# A token has a digit, - or _ somewhere (a 43-character random one lacks all three once in
# 7,000); a run of letters alone is a word, such as the ConnectionRefusedError a log must show.
_TOKEN = re.compile(r"(?=[A-Za-z]*[0-9_-])[A-Za-z0-9_-]{20,}")
_CODE = re.compile(r"(?<!\w)(?<!\d\.)\d{6}(?!\w|\.\d)")


def address(addr: str) -> str:
    """`alice@example.com` -> `a***@example.com`; anything without a domain -> `***`."""
    local, at, domain = addr.strip().rpartition("@")
    if not at or not local or not domain:
        return MASK
    return f"{local[0]}{MASK}@{domain}"


def recipient(settings: Settings, addr: str) -> str:
    """An address as the outbox's log lines may show it under these settings."""
    return address(addr) if settings.production else addr


def addresses_in(settings: Settings, text: str) -> str:
    """Free text (an SMTP server's error reply) with every address in it masked as `recipient`."""
    if not settings.production:
        return text
    return _ADDRESS.sub(lambda m: address(m.group(0)), text)


def reply(settings: Settings, text: str) -> str:
    """An SMTP server's answer as a log line may show it. A relay refusing a mail may quote it (a
    content filter names the line it matched), so whatever looks like a code, a link or a token
    is masked, and addresses as `addresses_in`."""
    for pattern in (_LINK, _TOKEN, _CODE):
        text = pattern.sub(MASK, text)
    return addresses_in(settings, text)


def url(raw: str) -> str:
    """A database or SMTP URL as a message may show it: the password replaced by `***`."""
    try:
        password = urlsplit(raw).password
    except ValueError:
        password = None
    if not password:
        return raw
    scheme, sep, rest = raw.partition("://")
    userinfo, at, location = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{sep}{user}:{MASK}{at}{location}"


class QueryParameters(logging.Filter):
    """Peewee logs every query with its parameters at DEBUG: code and UID digests, password hashes,
    addresses, and whole mails (the outbox row holds the code or link in clear). Keep the SQL,
    which is what one debugs, and say only how many parameters it had."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            sql, params = record.msg
            record.msg = "%s [%d parameters]"
            record.args = (sql, len(params or ()))
        return True


_QUERY_PARAMETERS = QueryParameters()


def quiet_query_parameters() -> None:
    """Attach the filter to peewee's logger (idempotent); core.db does it on opening a database."""
    peewee_logger = logging.getLogger("peewee")
    if _QUERY_PARAMETERS not in peewee_logger.filters:
        peewee_logger.addFilter(_QUERY_PARAMETERS)
