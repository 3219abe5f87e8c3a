"""Requests that are not valid HTTP: a problem document that quotes nothing, one log line.

aiohttp refuses them (a control byte in a header or the path, a bad Content-Length, an
overlong line, TLS sent to the plain port) before any middleware runs. It answered in
`text/plain`, quoting the refused bytes back, and logged a traceback quoting them again: a
header carrying a token ended up in both. aiohttp has no hook for the answer
(aio-libs/aiohttp#3287), so `install()` wraps `RequestHandler.handle_error`, keeping aiohttp's
own checks, and filters its server logger. The accounts service does the same for itself
(server/problems.py); devmail stands alone, so it has its own few lines, and each wrapper
keeps whatever it wrapped, so both can live in one process.
"""

from __future__ import annotations

import logging

from aiohttp import http_exceptions, web, web_protocol

from devmail.problems import problem_response

# What each refusal is about, most specific first (every one is a BadHttpMessage).
_KINDS: tuple[tuple[type[Exception], str], ...] = (
    (http_exceptions.BadHttpMethod, "its method"),
    (http_exceptions.BadStatusLine, "its request line"),
    (http_exceptions.InvalidURLError, "its URL"),
    (http_exceptions.LineTooLong, "a line that is too long"),
    (http_exceptions.InvalidHeader, "a header"),
    (http_exceptions.PayloadEncodingError, "the framing of its body"),
)


def _about(exc: BaseException) -> str:
    return next((kind for cls, kind in _KINDS if isinstance(exc, cls)), "its framing")


class _OneLine(logging.Filter):
    """aiohttp's record of a refused request: one line (INFO at most) naming the peer and kind."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, http_exceptions.HttpProcessingError):
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "-"
            record.msg = "refused a malformed request from %s (%s)"
            record.args = (peer, _about(exc))
            record.exc_info = record.exc_text = None
            if record.levelno > logging.INFO:  # aiohttp logs some (a bad method) at DEBUG
                record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_FILTER = _OneLine()


def install() -> None:
    """Idempotent; keeps whatever `handle_error` was installed before (aiohttp's, or another's)."""
    logger = logging.getLogger("aiohttp.server")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    wrapped = web_protocol.RequestHandler.handle_error
    if getattr(wrapped, "_devmail", False):
        return

    def handle_error(
        self: web_protocol.RequestHandler,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        response = wrapped(self, request, status, exc, message)
        if not isinstance(exc, http_exceptions.HttpProcessingError) or not 400 <= status < 500:
            return response
        detail = f"The request is not valid HTTP: devmail refused {_about(exc)}."
        answer = problem_response(status, "malformed_request", detail)
        answer.force_close()
        return answer

    handle_error._devmail = True  # type: ignore[attr-defined]
    web_protocol.RequestHandler.handle_error = handle_error  # type: ignore[method-assign]
