"""devmail's access log: one line per request, with no query value in it.

A search is how a developer finds a mail, and the term is often the code or the reset link's UID
itself (`/api/v1/search?query=273268`); aiohttp's default line (`%r`) printed it, so codes and
links went to `.acctkit/logs/devmail.log` although only the API and the TUI are meant to show
them. As in the accounts service's access log, a query is shown by its parameter names only.
"""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

MASK = "***"
# A parameter name worth showing is a short word (`query`, `wait`, `after`); a code, a UID or any
# other value sent as a name (`?273268`) is masked.
_NAME = re.compile(r"^[A-Za-z][A-Za-z_-]{0,19}$")
_MAX_NAMES = 10


def loggable_path(request: web.BaseRequest) -> str:
    """The path as sent (still percent-encoded: no newline reaches the log) and the query's
    parameter names."""
    path = request.rel_url.raw_path
    if request.query_string:
        names = list(dict.fromkeys(request.query.keys()))[:_MAX_NAMES]
        shown = (name if _NAME.match(name) else MASK for name in names)
        path += "?" + "&".join(f"{name}={MASK}" for name in shown)
    return path


class AccessLogger(AbstractAccessLogger):
    """Peer, request line with the query's values masked, status, size, duration, user agent."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        try:
            version = request.version
            self.logger.info(
                '%s "%s %s HTTP/%s.%s" %s %s %.6fs "%s"',
                request.remote or "-",
                request.method,
                loggable_path(request),
                version.major,
                version.minor,
                response.status,
                response.body_length,
                time,
                request.headers.get("User-Agent", "-"),
            )
        except Exception:
            self.logger.exception("could not write the access log line")
