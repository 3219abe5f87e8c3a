"""A request traced to its mail and back, from what the TUI already holds: the HTTP log and the
mailbox's summaries. The service stamps each mail with the request id of the request that caused
it (`X-Acctkit-Request-ID`, devmail's `RequestID`); the log has every request this TUI made and
its answer. Nothing here asks the network: a trace is shown at once, and stays true offline.

Which logged requests were attempts against a mail's ref:
- signup: verify and resend requests whose body names the signup id (the ref);
- email change and password reset: their bodies do not name the ref (and a reset UID is masked
  in the log), so the attempts are the flow's verify/confirm requests made from this ref's start
  request up to the next start of the same flow; a reset link's check (GET .../reset/{uid}/) is
  matched by its masked path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tui.client import Exchange, MailSummary
from tui.client.exchange import mask_path
from tui.mail_life import clock, what

# flow -> (the request that starts a ref, the requests that try it)
FLOW_ROUTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "signup": ("/api/auth/signup/", ("/api/auth/signup/verify/", "/api/auth/signup/resend/")),
    "email-change": ("/api/me/email/", ("/api/me/email/verify/",)),
    "password-reset": ("/api/auth/password/reset/", ("/api/auth/password/reset/confirm/",)),
}
RESET_CHECK = "/api/auth/password/reset/"


def _route(exchange: Exchange) -> str:
    return "/" + exchange.path.strip("/") + "/"


def _body(exchange: Exchange) -> dict[str, object]:
    try:
        body = json.loads(exchange.request_body) if exchange.request_body else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def mails_caused_by(exchange: Exchange, mails: Iterable[MailSummary]) -> list[MailSummary]:
    """The mails whose RequestID is this exchange's request id, oldest first."""
    if not exchange.request_id:
        return []
    found = [m for m in mails if m.request_id == exchange.request_id]
    return sorted(found, key=lambda m: (m.created or datetime.min.astimezone(), m.seq))


def cause_of(mail: MailSummary, exchanges: Iterable[Exchange]) -> Exchange | None:
    if not mail.request_id:
        return None
    return next((e for e in exchanges if e.request_id == mail.request_id), None)


def attempts_on(
    mail: MailSummary, mails: Iterable[MailSummary], exchanges: Iterable[Exchange]
) -> list[Exchange]:
    """Every request this TUI made against the mail's ref, in the order made. A notice (the
    "password changed" mail) is tried by nothing itself: its ref's are the attempts of the
    mail it shares the ref with (the reset link it followed)."""
    mails = list(mails)
    if mail.flow not in FLOW_ROUTES and mail.ref:
        kin = next((m for m in mails if m.ref == mail.ref and m.flow in FLOW_ROUTES), None)
        return attempts_on(kin, mails, exchanges) if kin is not None else []
    if mail.flow not in FLOW_ROUTES or not mail.ref:
        return []
    start_route, try_routes = FLOW_ROUTES[mail.flow]
    log = [e for e in exchanges if e.service == "accounts"]
    if mail.flow == "signup":
        return [e for e in log if _route(e) in try_routes and _body(e).get("signup_id") == mail.ref]
    causes = {m.request_id for m in mails if m.ref == mail.ref and m.request_id}
    starts = [i for i, e in enumerate(log) if _route(e) == start_route and e.method == "POST"]
    mine = [i for i in starts if log[i].request_id in causes]
    checks = {mask_path(f"{RESET_CHECK}{link.rsplit('/', 1)[-1]}/") for link in mail.links}
    found = []
    if mine:
        first = mine[0]
        later = [i for i in starts if i > mine[-1]]
        end = later[0] if later else len(log)
        found = [e for e in log[first + 1 : end] if _route(e) in try_routes and e.method == "POST"]
    found += [e for e in log if e.method == "GET" and e.path in checks]
    return sorted(found, key=lambda e: e.id)


@dataclass(frozen=True)
class Line:
    """One line of a trace, with the style it is shown in."""

    text: str
    style: str = ""


def exchange_line(exchange: Exchange) -> str:
    status = exchange.status if exchange.status is not None else "ERR"
    return (
        f"#{exchange.id} {clock(exchange.started)} {exchange.method} {exchange.path} → {status}"
        f"  request id {exchange.request_id}"
    )


def answer_of(exchange: Exchange) -> str:
    """What the service answered, in a few words: the problem's code and detail, or 2xx."""
    if exchange.status is None:
        return f"no answer: {exchange.error}"
    try:
        body = json.loads(exchange.response_body) if exchange.response_body else None
    except ValueError:
        body = None
    sent = _body(exchange).get("code")
    tried = f"code {sent}: " if isinstance(sent, str) else ""
    if isinstance(body, dict) and "code" in body and exchange.status >= 400:
        left, detail = body.get("attempts_left"), str(body.get("detail", ""))
        said = isinstance(left, int) and "attempt" in detail
        more = f" ({left} attempts left)" if isinstance(left, int) and not said else ""
        return f"{tried}{body['code']}: {detail}{more}"
    return f"{tried}accepted ({exchange.status})"


def mail_line(mail: MailSummary, state: str = "") -> str:
    seq = f" #{mail.ref_seq}" if mail.ref_seq is not None else ""
    code = what(mail) or "-"
    mismatch = " · PARTS MISMATCH" if mail.parts_mismatch else ""
    shown = f" · {state}" if state else ""
    return (
        f"{clock(mail.created)} {mail.flow or 'mail'}{seq} {code} to {mail.to_text}{shown}"
        f"{mismatch}  (ID {mail.id})"
    )


def request_trace(
    exchange: Exchange, mails: Iterable[MailSummary], states: dict[str, str]
) -> list[Line]:
    caused = mails_caused_by(exchange, mails)
    lines = [Line("Request", "bold"), Line(exchange_line(exchange)), Line(""), Line("Mail", "bold")]
    if not caused:
        lines.append(Line(f"no mail carries request id {exchange.request_id} (yet)", "dim"))
    lines += [Line(mail_line(m, states.get(m.id, ""))) for m in caused]
    return lines


def mail_trace(
    mail: MailSummary,
    mails: Iterable[MailSummary],
    exchanges: Iterable[Exchange],
    states: dict[str, str],
) -> list[Line]:
    mails, exchanges = list(mails), list(exchanges)
    lines = [Line("Mail", "bold"), Line(mail_line(mail, states.get(mail.id, "")))]
    if mail.parts_mismatch:
        lines.append(Line("its text and HTML parts carry different codes or links", "bold red"))
    lines += [Line(""), Line("Caused by", "bold")]
    cause = cause_of(mail, exchanges)
    if cause is not None:
        lines.append(Line(exchange_line(cause)))
    elif mail.request_id:
        lines.append(Line(f"request id {mail.request_id}: not made by this TUI (or logged)", "dim"))
    else:
        lines.append(Line("the mail names no request (no X-Acctkit-Request-ID)", "dim"))
    others = [m for m in mails if mail.ref and m.ref == mail.ref and m.id != mail.id]
    if others:
        lines += [Line(""), Line(f"Other mail of ref {mail.ref}", "bold")]
        lines += [Line(mail_line(m, states.get(m.id, ""))) for m in others]
    lines += [Line(""), Line(f"Attempts against ref {mail.ref or '-'}", "bold")]
    attempts = attempts_on(mail, mails, exchanges)
    if not attempts:
        lines.append(Line("none made by this TUI", "dim"))
    for attempt in attempts:
        ok = attempt.status is not None and attempt.status < 400
        lines.append(Line(exchange_line(attempt)))
        lines.append(Line(f"    {answer_of(attempt)}", "green" if ok else "red"))
    return lines
