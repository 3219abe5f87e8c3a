"""The id of the request being served, held in a contextvar so that every log line and every mail
a request causes can name it, also from the executor threads its work runs in (the server copies
the context into them)."""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token

current: ContextVar[str | None] = ContextVar("acctkit_request_id", default=None)


def bind(request_id: str) -> Token[str | None]:
    return current.set(request_id)


def unbind(token: Token[str | None]) -> None:
    current.reset(token)


class RequestIdFilter(logging.Filter):
    """Stamps `record.request_id` ("-" outside a request) so formats can say `%(request_id)s`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current.get() or "-"
        return True


_STAMP = RequestIdFilter()


def install() -> None:
    """Stamp every record at its creation, in the thread and context that logs it.

    A filter on one handler misses every other handler (pytest's caplog among them), and a filter
    on a logger misses its children's records, so the filter runs from the record factory, the one
    hook every record passes through. Idempotent.
    """
    factory = logging.getLogRecordFactory()
    if getattr(factory, "stamps_request_id", False):
        return

    def stamped(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        _STAMP.filter(record)
        return record

    stamped.stamps_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(stamped)
