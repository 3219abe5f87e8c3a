"""What a log line may say about a person: addresses are masked where real people's mail flows.

Secrets (codes, UIDs, tokens, passwords) are never handed to a logger at all; addresses are
useful while developing (which mail went where) and personal data in production, so production
logs keep only the first character of the local part and the domain, enough to tell a mail to
a colleague from one to a customer, not enough to name anyone.
"""

from __future__ import annotations

import logging
import re

from core.settings import Settings

MASK = "***"
# Anything shaped like local@domain inside free text (an SMTP reply quoting the recipient).
_ADDRESS = re.compile(r"[^\s<>()\[\]@\"',;:]+@[^\s<>()\[\]@\"',;:]+")


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
