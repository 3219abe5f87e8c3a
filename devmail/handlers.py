"""Handlers of the message routes: list, search, read, views, parts, mark read, delete."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import quote

import msgspec
from aiohttp import web

from contract import mailpit
from devmail import shapes
from devmail.message import Summary
from devmail.params import int_param, query_param, resolve, search_query
from devmail.parse import part_bytes
from devmail.problems import Problem, json_response, read_body
from devmail.search import Query
from devmail.server import DEVMAIL_KEY
from devmail.store import Store

DEFAULT_LIMIT = 50


def _store(request: web.Request) -> Store:
    return request.app[DEVMAIL_KEY].store


async def _named(request: web.Request) -> Summary:
    return await resolve(request, _store(request), request.match_info["id"])


# A page longer than this is shaped and encoded beside the loop (10,000 summaries: 0.2 s).
_LONG_PAGE = 500


async def _listing(request: web.Request, query: Query | None) -> web.Response:
    store = _store(request)
    start = int_param(request, "start", 0)
    limit = int_param(request, "limit", DEFAULT_LIMIT)
    page = await store.page(query, start, limit)
    counts = {"total": len(store), "unread": store.unread, "tags": list(store.tag_counts())}

    def listing() -> mailpit.Messages:  # reads only the page's snapshots and the counts
        return mailpit.Messages(
            **counts,
            count=len(page.summaries),
            messages_count=page.matched,
            messages_unread=page.matched_unread,
            start=start,
            messages=[shapes.summary(s) for s in page.summaries],
        )

    if len(page.summaries) <= _LONG_PAGE:
        return json_response(listing())
    body = await asyncio.to_thread(lambda: msgspec.json.encode(listing()))
    return web.Response(body=body, content_type="application/json")


async def list_messages(request: web.Request) -> web.Response:
    return await _listing(request, None)


async def search_messages(request: web.Request) -> web.Response:
    return await _listing(request, query_param(request))


async def delete_search(request: web.Request) -> web.Response:
    """Mailpit's DELETE /api/v1/search: delete what the query matches."""
    store = _store(request)
    query = query_param(request)
    if not query.terms:
        raise Problem(
            400, "invalid_query", "a query is required; DELETE /api/v1/messages clears all"
        )
    await store.delete([s.id for s in await store.found(query)])
    return web.Response(text="ok")


async def delete_messages(request: web.Request) -> web.Response:
    """No body, `{}` or `{"IDs": null}` deletes all; `{"IDs": [...]}` those (none for []).

    A malformed body is a 400, unlike Mailpit, which deletes everything on a body it can't read.
    """
    body = await read_body(request, mailpit.DeleteRequest, empty=mailpit.DeleteRequest())
    await _store(request).delete(body.IDs)
    return web.Response(text="ok")


async def set_read(request: web.Request) -> web.Response:
    """Mailpit's PUT /api/v1/messages: `{"IDs": [...], "Read": bool}`; no IDs means all
    (or what `Search` matches); no body marks everything unread, as in Mailpit."""
    body = await read_body(request, mailpit.ReadRequest, empty=mailpit.ReadRequest())
    store = _store(request)
    ids = body.IDs or None
    if ids is None and body.Search:
        query = search_query(body.Search)
        ids = [s.id for s in await store.found(query)]
    await store.set_read(ids, body.Read)
    return web.Response(text="ok")


# Headers are decoded when first read (ParsedMessage.headers, about 30 us each) and then
# shaped: for a message with more than this many, both happen beside the loop (100,000 of
# them held it for 3.5 s).
_MANY_HEADERS = 200


async def _headers(summary: Summary) -> dict[str, list[str]]:
    if len(summary.message.parsed.raw_headers) <= _MANY_HEADERS:
        return shapes.headers(summary)
    return await asyncio.to_thread(shapes.headers, summary)


# A message whose text and HTML are longer than this is encoded beside the loop (a 20 MB text
# held it for 36 ms).
_LONG_BODY = 1 << 20


async def get_message(request: web.Request) -> web.Response:
    summary = await _named(request)
    headers = await _headers(summary)
    marked = await _store(request).mark_read(summary.message.id)
    whole = shapes.message(marked or summary, headers)
    if len(whole.Text) + len(whole.HTML) <= _LONG_BODY:
        return json_response(whole)
    body = await asyncio.to_thread(msgspec.json.encode, whole)
    return web.Response(body=body, content_type="application/json")


async def get_raw(request: web.Request) -> web.Response:
    summary = await _named(request)
    raw = await _store(request).raw(summary.message.id)
    if raw is None:
        raise Problem(404, "message_not_found", "the message was deleted meanwhile")
    return _mail_content(web.Response(body=raw, content_type="text/plain", charset="utf-8"))


async def get_headers(request: web.Request) -> web.Response:
    return json_response(await _headers(await _named(request)))


# type/subtype, each an RFC 9110 token. A part's Content-Type is whatever the sender wrote: one
# with a control character made aiohttp drop the connection instead of answering.
_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+")


async def get_part(request: web.Request) -> web.Response:
    summary = await _named(request)
    raw = await _store(request).raw(summary.message.id)
    # The whole message is parsed again to find the part: a 20 MB attachment took half a
    # second, so it happens beside the loop, not on it.
    part = request.match_info["part"]
    found = await asyncio.to_thread(part_bytes, raw, part) if raw is not None else None
    if found is None:
        raise Problem(404, "part_not_found", "the message has no part with that number")
    content_type, file_name, payload = found
    if not _MEDIA_TYPE.fullmatch(content_type):
        content_type = "application/octet-stream"
    response = _mail_content(web.Response(body=payload, content_type=content_type))
    if file_name:
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(file_name)}"
    return response


# Views and parts show mail from anyone: no script runs (an HTML or SVG part opened from the
# API ran with devmail's origin), nothing loads from elsewhere.
_VIEW_CSP = "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; sandbox"


def _mail_content(response: web.Response) -> web.Response:
    response.headers["Content-Security-Policy"] = _VIEW_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def view_html(request: web.Request) -> web.Response:
    """Mailpit's GET /view/{ID}.html: the HTML part alone (404 when there is none)."""
    summary = await resolve(request, _store(request), request.match_info["id"])
    html = summary.message.parsed.html
    if not html:
        raise Problem(404, "part_not_found", "the message has no HTML part")
    return _mail_content(web.Response(text=html, content_type="text/html", charset="utf-8"))


async def view_text(request: web.Request) -> web.Response:
    """Mailpit's GET /view/{ID}.txt: the text part alone (empty when there is none)."""
    summary = await resolve(request, _store(request), request.match_info["id"])
    return _mail_content(web.Response(text=summary.message.parsed.text, content_type="text/plain"))
