"""Issue 9, item 4: every account flow, run over real sockets with real mail, leaves no password,
code, reset UID, token or full address in any log record the service writes, at DEBUG."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from tests.e2e.live import Live, live

__all__ = ["live"]

PASSWORD = "rabbit-hole-2026"
RESET_PASSWORD = "looking-glass-2027"
CHANGED_PASSWORD = "queen-of-hearts-2028"
ALICE = {
    "first_name": "Alice",
    "last_name": "Liddell",
    "username": "alice",
    "email": "alice@example.com",
    "password": PASSWORD,
}
NEW_ADDRESS = "alice.new@wonderland.test"
# The mail catcher runs in this process too; its own records (and aiosmtpd's) are its business.
NOT_THE_SERVICE = ("devmail", "mail.log")
_FORMATTER = logging.Formatter("%(levelname)s %(name)s %(message)s")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        """Each record in full: message, arguments filled in, traceback and extra fields."""
        out = []
        for r in self.records:
            if r.name.startswith(NOT_THE_SERVICE):
                continue
            extra = {k: v for k, v in vars(r).items() if k not in _STANDARD}
            out.append(f"{_FORMATTER.format(r)} {extra!r}")
        return out


_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@pytest.fixture
def records() -> Iterator[Records]:
    """Everything logged anywhere at DEBUG, including aiohttp.access, caught at the root."""
    handler = Records()
    root = logging.getLogger()
    saved = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    changed = []
    for logger in logging.root.manager.loggerDict.values():
        if isinstance(logger, logging.Logger) and logger.level > logging.DEBUG:
            changed.append((logger, logger.level))
            logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)
        for logger, level in changed:
            logger.setLevel(level)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


async def test_every_flow_leaves_no_secret_in_any_log_record(live: Live, records: Records) -> None:
    secrets: dict[str, str] = {}

    def keep(kind: str, value: str) -> str:
        secrets[f"{kind} #{len(secrets)}"] = value
        return value

    for password in (PASSWORD, RESET_PASSWORD, CHANGED_PASSWORD):
        keep("password", password)
    keep("address", ALICE["email"])
    keep("address", NEW_ADDRESS)

    # signup, resend, verify (a wrong code first)
    started = await live.call("POST", "/api/auth/signup/", 202, json=ALICE)
    first = await live.latest_mail(ALICE["email"])
    keep("code", first["Codes"][0])
    live.clock.advance(61)
    await live.call(
        "POST", "/api/auth/signup/resend/", 202, json={"signup_id": started["signup_id"]}
    )
    second = await live.latest_mail(ALICE["email"], after=first["ID"])
    code = keep("code", second["Codes"][0])
    wrong = "000000" if code != "000000" else "111111"
    body = {"signup_id": started["signup_id"], "code": wrong}
    await live.call("POST", "/api/auth/signup/verify/", 400, json=body)
    body["code"] = code
    verified = await live.call("POST", "/api/auth/signup/verify/", 201, json=body)
    keep("token", verified["access"])
    keep("token", verified["refresh"])

    # login (a failure first), refresh, verify
    bad = {"username": "alice", "password": "not-" + PASSWORD}
    await live.call("POST", "/api/token/", 401, json=bad)
    pair = await live.call("POST", "/api/token/", 200, json=ALICE)
    keep("token", pair["access"])
    pair = await live.call("POST", "/api/token/refresh/", 200, json={"refresh": pair["refresh"]})
    keep("token", pair["access"])
    keep("token", pair["refresh"])
    await live.call("POST", "/api/token/verify/", 200, json={"token": pair["access"]})
    await live.call("GET", "/api/me/?next=" + pair["access"], 200, token=pair["access"])

    # reset: the link is opened (page and API check), refused once, then confirmed on the page
    await live.call("POST", "/api/auth/password/reset/", 202, json={"email": ALICE["email"]})
    link_mail = await live.latest_mail(ALICE["email"], after=second["ID"])
    (link,) = [x for x in link_mail["Links"] if "/reset-password/" in x]
    uid = keep("uid", link.rsplit("/", 1)[1])
    assert link == f"{live.url}/reset-password/{uid}"
    page = await live.call("GET", f"/reset-password/{uid}", 200)
    await live.call("GET", f"/api/auth/password/reset/{uid}/", 200)
    await live.call("GET", f"/api/auth/password/reset/{uid}", 200)
    await live.call("PUT", f"/reset-password/{uid}", 405)
    await live.call("GET", f"/reset-password/{uid}/nothing-here", 404)
    await live.call("GET", f"/reset-password/{uid}?uid={uid}", 200)
    form = {"csrf_token": _csrf(page), "new_password": RESET_PASSWORD}
    await live.call(
        "POST", f"/reset-password/{uid}", 400, data={**form, "re_new_password": "other-" + uid}
    )
    await live.call(
        "POST", f"/reset-password/{uid}", 200, data={**form, "re_new_password": RESET_PASSWORD}
    )
    await live.latest_mail(ALICE["email"], after=link_mail["ID"])  # "password changed"
    login = {"username": "alice", "password": RESET_PASSWORD}
    pair = await live.call("POST", "/api/token/", 200, json=login)
    keep("token", pair["access"])
    keep("token", pair["refresh"])

    # email change with its code
    change = {"email": NEW_ADDRESS, "password": RESET_PASSWORD}
    await live.call("POST", "/api/me/email/", 202, token=pair["access"], json=change)
    change_mail = await live.latest_mail(NEW_ADDRESS)
    email_code = keep("code", change_mail["Codes"][0])
    await live.call(
        "POST", "/api/me/email/verify/", 200, token=pair["access"], json={"code": email_code}
    )

    # password change, then delete the account
    body = {"current_password": RESET_PASSWORD, "new_password": CHANGED_PASSWORD}
    pair = await live.call("POST", "/api/me/password/", 200, token=pair["access"], json=body)
    keep("token", pair["access"])
    keep("token", pair["refresh"])
    await live.latest_mail(NEW_ADDRESS, after=change_mail["ID"])  # "password changed"
    await live.call(
        "DELETE", "/api/me/", 204, token=pair["access"], json={"password": CHANGED_PASSWORD}
    )

    lines = records.lines()
    access = [line for line in lines if " aiohttp.access " in line]
    assert len(access) >= 20, "the access log did not run"
    assert any('"GET /reset-password/*** HTTP/1.1" 200' in line for line in access)
    assert any('"POST /reset-password/*** HTTP/1.1" 200' in line for line in access)
    assert any('"PUT /reset-password/*** HTTP/1.1" 405' in line for line in access)
    assert any('"GET /api/me/?next=*** HTTP/1.1" 200' in line for line in access)
    assert any("mail sent" in line and "a***@example.com" in line for line in lines)
    assert any("mail queued" in line and "a***@wonderland.test" in line for line in lines)
    leaks = [
        (kind, line)
        for kind, value in secrets.items()
        for line in lines
        if value.lower() in line.lower()
    ]
    assert leaks == [], "\n".join(f"{k}: {line[:300]}" for k, line in leaks)


async def test_access_log_keeps_row_ids_and_masks_what_could_be_a_secret(
    live: Live, records: Records
) -> None:
    token_like = "c2VjcmV0LXRva2VuLWluLWEtcGF0aA"
    await live.call("GET", "/api/users/17/avatar", 404)
    await live.call("GET", f"/no/such/{token_like}/page", 404)
    await live.call("GET", "/healthz?a=1&b=two&a=3", 200)
    await live.call("GET", "/no/such/line%0Abreak", 404)
    access = [line for line in records.lines() if " aiohttp.access " in line]
    assert any('"GET /api/users/17/avatar HTTP/1.1" 404' in line for line in access), access
    assert any('"GET /no/such/***/page HTTP/1.1" 404' in line for line in access), access
    assert any('"GET /healthz?a=***&b=*** HTTP/1.1" 200' in line for line in access), access
    assert any('"GET /no/such/line%0Abreak HTTP/1.1" 404' in line for line in access), access
    assert not any(token_like in line or "two" in line or "\n" in line for line in access)
