"""The devmail client: its Mailpit-style API and its websocket of events."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import quote

import aiohttp
import msgspec

from contract import mailpit
from tui.client.exchange import HttpLog
from tui.client.http import HEALTH_TIMEOUT, Seen, Transport, decoded, short_reason
from tui.client.models import (
    MailAddress,
    MailEvent,
    MailMessage,
    MailPage,
    MailSummary,
    parse_time,
)
from tui.client.problem import ApiProblem

CACHED_MESSAGES = 256


class MailClient:
    """Listing, opening and the event socket are "background" reads in the log: the mailbox
    makes them on its own. An opened message is cached by ID (its text, HTML and headers never
    change; its summary's flags come from the event stream), so moving the cursor up and down
    the mailbox does not flood the log with one GET per row."""

    def __init__(self, base_url: str, log: HttpLog | None = None) -> None:
        self.log = log if log is not None else HttpLog()
        self._http = Transport(base_url, "devmail", self.log)
        self._opened: OrderedDict[str, MailMessage] = OrderedDict()

    @property
    def base_url(self) -> str:
        return self._http.base_url

    async def close(self) -> None:
        await self._http.close()

    async def messages(self, start: int = 0, limit: int = 200) -> MailPage:
        reply = await self._http.request(
            "GET",
            "/api/v1/messages",
            params={"start": str(start), "limit": str(limit)},
            background=True,
        )
        return view_page(decoded(reply, mailpit.Messages))

    async def message(self, message_id: str) -> MailMessage:
        cached = self._opened.get(message_id)
        if cached is not None:
            self._opened.move_to_end(message_id)
            return cached
        reply = await self._http.request(
            "GET", f"/api/v1/message/{quote(message_id, safe='')}", background=True
        )
        found = view_message(decoded(reply, mailpit.Message))
        self._opened[message_id] = found
        while len(self._opened) > CACHED_MESSAGES:
            self._opened.popitem(last=False)
        return found

    def forget(self, message_id: str | None = None) -> None:
        """Drop one cached message (or all): devmail deleted it."""
        if message_id is None:
            self._opened.clear()
        else:
            self._opened.pop(message_id, None)

    async def latest(
        self, query: str = "", *, wait: float = 0, after: str | None = None
    ) -> MailMessage | None:
        """The newest message matching `query`, holding up to `wait` seconds; None if none."""
        params = {"query": query}
        if wait:
            params["wait"] = f"{wait:g}"
        if after:
            params["after"] = after
        try:
            reply = await self._http.request(
                "GET",
                "/api/v1/message/latest",
                params=params,
                client_timeout=aiohttp.ClientTimeout(total=wait + 30),
            )
        except ApiProblem as problem:
            if problem.status == 404:
                return None
            raise
        return view_message(decoded(reply, mailpit.Message))

    async def delete_all(self) -> None:
        await self._http.request("DELETE", "/api/v1/messages")
        self.forget()

    async def chaos(self, *, background: bool = False) -> mailpit.ChaosTriggers:
        """The SMTP faults devmail injects now (Mailpit's chaos, with devmail's extensions)."""
        reply = await self._http.request("GET", "/api/v1/chaos", background=background)
        return decoded(reply, mailpit.ChaosTriggers)

    async def set_chaos(self, triggers: mailpit.ChaosTriggers) -> mailpit.ChaosTriggers:
        """Replace every trigger (as in Mailpit, one left out is off); answers the result."""
        reply = await self._http.request(
            "PUT", "/api/v1/chaos", json_body=msgspec.to_builtins(triggers)
        )
        return decoded(reply, mailpit.ChaosTriggers)

    async def ready(self) -> None:
        """Raises ApiProblem unless devmail answers its readiness route quickly. Not logged:
        the health indicator shows it, and a poll every few seconds would flood the log."""
        await self._http.request("GET", "/readyz", client_timeout=HEALTH_TIMEOUT, recorded=False)

    async def events(self) -> AsyncIterator[MailEvent]:
        """Events from the websocket, starting with a synthetic "connected" once it is open, so
        a caller can list what is already there without missing anything in between."""
        url = self._http.url("/api/events").replace("http", "ws", 1)
        t0 = time.perf_counter()
        started = datetime.now(UTC)
        try:
            ws = await self._http.open_session().ws_connect(url, heartbeat=30)
        except (aiohttp.ClientError, OSError) as exc:
            self._http.record(
                "GET", url, "/api/events", None, t0, "", "", "", started, str(exc), seen=_EVENTS
            )
            raise self._http.unreachable(short_reason(exc)) from exc
        self._http.record(
            "GET", url, "/api/events", 101, t0, "", "", "websocket open", started, seen=_EVENTS
        )
        try:
            yield MailEvent("connected", None)
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                try:
                    event = _EVENT_DECODER.decode(message.data)
                except (msgspec.ValidationError, msgspec.DecodeError):
                    continue
                summary = view_summary(event.Data)
                if event.Type == "delete":
                    self.forget(summary.id)
                yield MailEvent(event.Type, summary)
        finally:
            await ws.close()


_EVENTS = Seen(background=True)
_EVENT_DECODER = msgspec.json.Decoder(mailpit.Event)


# --- decoding: every devmail answer is decoded as the contract's Mailpit Struct, then viewed --


def view_address(address: mailpit.Address | None) -> MailAddress:
    return MailAddress(address.Name, address.Address) if address else MailAddress("", "")


def view_summary(data: mailpit.Summary | mailpit.Message) -> MailSummary:
    return MailSummary(
        id=data.ID,
        from_=view_address(data.From),
        to=tuple(view_address(a) for a in data.To),
        subject=data.Subject,
        created=parse_time(data.Created),
        snippet=data.Snippet,
        codes=tuple(data.Codes),
        links=tuple(data.Links),
        flow=data.Flow or None,
        ref=data.Ref or None,
        ref_seq=data.RefSeq,
        superseded=data.Superseded,
        superseded_by=data.SupersededBy or None,
        read=data.Read,
        seq=data.Seq,
        request_id=data.RequestID or None,
        parts_mismatch=data.PartsMismatch,
    )


def view_page(data: mailpit.Messages) -> MailPage:
    return MailPage(data.total, data.unread, tuple(view_summary(m) for m in data.messages))


def view_message(data: mailpit.Message) -> MailMessage:
    return MailMessage(view_summary(data), data.Text, data.HTML, data.Headers)
