"""What the service writes to its log about each request, with no secret in it.

A path can carry a secret (a mailed reset link's UID is a bearer credential: whoever reads it in a
log can take the account), so no log line ever shows a raw path or query. The rule is driven by
the route table rather than by a list of secret routes, so a route added later is covered without
anyone remembering to list it:
- a matched route is logged as its template with every dynamic part masked, except the parts
  named in PUBLIC_PARTS (plain row ids, useful when reading a log and secret to nobody);
- a path that matches no route for its method (404, 405) is matched against every route's
  pattern, and failing that, every path segment long enough to be a token is masked;
- a query string is logged as its parameter names only.

aiohttp's own refusals of malformed requests (a bad request line, a NUL in a header) are answered
400 by aiohttp and logged by it at ERROR with a traceback whose exception text quotes the raw bytes
(which may hold a path or a header carrying a secret); `ParserErrorFilter` turns those records into
one INFO line naming the peer and the kind of error.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

from core import request_id

MASK = "***"
PUBLIC_PARTS = frozenset({"id"})
# A segment this long made of URL-safe token characters is treated as a secret when unmatched.
_TOKENISH = re.compile(r"^[A-Za-z0-9_\-.~%=]{16,}$")
_PART = re.compile(r"\{(\w+)\}")
_MAX_QUERY_NAMES = 10
_MAX_PUBLIC = 40
_PATH_SAFE = "%-._~!$&'()*+,;=:@"  # kept as sent; anything else (a newline) is escaped


def _match_info(request: web.BaseRequest) -> UrlMappingMatchInfo | None:
    """The routing result; none for aiohttp's stand-in for a request it could not parse, which
    never went through the router (`Request.match_info` asserts it exists)."""
    if not isinstance(request, web.Request):
        return None
    return request._match_info


def _template(request: web.BaseRequest) -> str | None:
    """The route template of the resource this path belongs to, if any route has it."""
    match_info = _match_info(request)
    if match_info is None:
        return None
    resource = match_info.route.resource
    if resource is not None:
        info = resource.get_info()
        found = info.get("formatter") or info.get("path")
        return str(found) if found else None  # a static directory: judged segment by segment
    if not match_info.apps:
        return None
    for candidate in match_info.apps[-1].router.resources():
        info = candidate.get_info()
        pattern = info.get("pattern")
        if pattern is not None and pattern.fullmatch(request.path):
            return str(info["formatter"])
        if info.get("path") == request.path:
            return str(info["path"])
    return None


def _fill_public(template: str, request: web.BaseRequest) -> str:
    """The template with public parts filled in from the request's match, the rest masked."""
    values: dict[str, str] = dict(_match_info(request) or {})

    def part(m: re.Match[str]) -> str:
        name = m.group(1)
        value = values.get(name) if name in PUBLIC_PARTS else None
        return quote(value[:_MAX_PUBLIC], safe="") if value else MASK

    return _PART.sub(part, template)


def loggable_path(request: web.BaseRequest) -> str:
    """The request's path and query as a log line may show them."""
    template = _template(request)
    if template is not None:
        path = _fill_public(template, request)
    else:
        path = "/".join(
            MASK if _TOKENISH.match(segment) else quote(segment, safe=_PATH_SAFE)
            for segment in request.rel_url.raw_path.split("/")
        )
    if request.query_string:
        names = list(dict.fromkeys(request.query.keys()))[:_MAX_QUERY_NAMES]
        path += "?" + "&".join(f"{quote(name[:_MAX_PUBLIC], safe='')}={MASK}" for name in names)
    return path


class AccessLogger(AbstractAccessLogger):
    """One line per request: peer, request line with the path masked, status, size, duration.

    The format is fixed (aiohttp's `%r` would print the raw path); `log_format` is ignored.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        # aiohttp writes this line after the request's own context has ended: name its id again.
        token = request_id.bind(response.headers.get("X-Request-ID", "-"))
        try:
            version = request.version
            self.logger.info(
                '%s "%s %s HTTP/%s.%s" %s %s %.6fs',
                request.remote or "-",
                request.method,
                loggable_path(request),
                version.major,
                version.minor,
                response.status,
                response.body_length,
                time,
            )
        except Exception:
            self.logger.exception("could not write the access log line")
        finally:
            request_id.unbind(token)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


class ParserErrorFilter(logging.Filter):
    """Rewrites aiohttp's records of malformed requests: one INFO line, no traceback, no raw bytes.

    aiohttp has already answered such a request with 400; a client sending garbage is not an error
    of the service, and the exception text quotes what the client sent.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "-"
            record.msg = "refused a malformed request from %s (%s)"
            record.args = (peer, type(exc).__name__)
            record.exc_info = None
            record.exc_text = None
            if record.levelno > logging.INFO:  # aiohttp logs some (a bad method) at DEBUG
                record.levelno = logging.INFO
                record.levelname = logging.getLevelName(logging.INFO)
        return True


_PARSER_ERRORS = ParserErrorFilter()

# Handed to web.run_app / web.AppRunner by `acctkit serve` and by the tests that check its logs.
RUNNER_OPTIONS: dict[str, Any] = {"access_log_class": AccessLogger}


def install() -> None:
    """Attach the filter to aiohttp's server logger (idempotent)."""
    server_logger = logging.getLogger("aiohttp.server")
    if _PARSER_ERRORS not in server_logger.filters:
        server_logger.addFilter(_PARSER_ERRORS)
