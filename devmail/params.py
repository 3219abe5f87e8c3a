"""Query parameters and the message a path names, read strictly: anything odd is a 400."""

from __future__ import annotations

import math
import re

from aiohttp import web

from devmail.message import Summary
from devmail.problems import Problem
from devmail.search import Query, QueryError, parse_query
from devmail.store import Store

MAX_WAIT_SECONDS = 300.0
# Go's int32, the bound Mailpit's own paging parses into; larger is nobody's real page.
MAX_INT_PARAM = 2**31 - 1
MAX_QUERY_CHARS = 4096
_WHOLE = re.compile(r"[0-9]{1,10}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if raw.startswith("-") and _WHOLE.fullmatch(raw[1:]):
        raise Problem(400, "invalid_parameter", f"{name} must not be negative")
    if not _WHOLE.fullmatch(raw) or int(raw) > MAX_INT_PARAM:
        raise Problem(
            400, "invalid_parameter", f"{name} must be a whole number from 0 to {MAX_INT_PARAM}"
        )
    return int(raw)


def text_param(request: web.Request, name: str) -> str:
    raw = request.query.get(name, "")
    if len(raw) > MAX_QUERY_CHARS or _CONTROL.search(raw) or _has_surrogate(raw):
        raise Problem(
            400, "invalid_parameter", f"{name} must be printable text under {MAX_QUERY_CHARS}"
        )
    return raw


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def query_param(request: web.Request, name: str = "query") -> Query:
    return search_query(text_param(request, name))


def search_query(text: str) -> Query:
    try:
        return parse_query(text)
    except QueryError as exc:
        raise Problem(400, "invalid_query", str(exc)) from None


def wait_param(request: web.Request) -> float:
    """Seconds to hold a `latest` request; values above MAX_WAIT_SECONDS are capped to it."""
    raw = request.query.get("wait")
    if raw is None or raw == "":
        return 0.0
    try:
        seconds = float(raw) if len(raw) <= 32 else math.nan
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise Problem(400, "invalid_parameter", "wait must be a number of seconds, 0 or more")
    return min(seconds, MAX_WAIT_SECONDS)


def after_param(request: web.Request, store: Store) -> int:
    after = text_param(request, "after")
    if not after:
        return 0
    seq = store.seq_of(after)
    if seq is None:
        raise Problem(400, "unknown_after", f"after={after} names no message devmail has seen")
    return seq


async def resolve(request: web.Request, store: Store, message_id: str) -> Summary:
    """The message named in the path: an ID, or `latest` (with query, after and wait)."""
    if message_id != "latest":
        found = store.summary(message_id)
        if found is None:
            raise Problem(404, "message_not_found", "no message with that ID")
        return found
    query = query_param(request)
    after_seq = after_param(request, store)
    seconds = wait_param(request)
    if seconds > 0:
        latest = await store.wait_latest(query, after_seq, seconds)
    else:
        latest = await store.newest(query, after_seq)
    if latest is None and store.released:
        raise Problem(503, "shutting_down", "devmail is shutting down")
    if latest is None:
        waited = f" within {seconds:g} s" if seconds else ""
        raise Problem(404, "message_not_found", f"no message matches{waited}")
    return latest
