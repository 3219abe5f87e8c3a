"""The HTTP log against the real service and devmail: headers, masking, filter, follow, curl,
and the mailbox's own reads kept out of the way."""

from __future__ import annotations

import shlex
from typing import Any

from textual.widgets import Input, Static

from tests.tui.conftest import PASSWORD, Devmail, make_user, settle, until
from tui.client import MASK, Exchange
from tui.screens.http_log import ExchangeTable, HttpLogPane, LogFilter


def shown(app: Any) -> list[Exchange]:
    table = app.query_one(ExchangeTable)
    return [table.exchanges[key.value] for key in table.rows]


def newest(app: Any, path: str) -> Exchange:
    return next(e for e in reversed(app.http_log.entries) if e.path == path)


async def open_log(app: Any, pilot: Any) -> ExchangeTable:
    app.action_show_tab("log")
    await pilot.pause()
    table = app.query_one(ExchangeTable)
    table.focus()
    await pilot.pause()
    return table


async def test_an_exchange_shows_masked_headers_and_bodies_and_copies_as_curl(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        tokens = await app.accounts.login("alice", PASSWORD)
        await app.accounts.me()
        await pilot.pause()
        table = await open_log(app, pilot)

        me = newest(app, "/api/me/")
        assert table.selected == me  # the newest exchange is followed
        assert ("Authorization", f"Bearer {MASK}") in me.request_headers
        assert dict(me.request_headers)["X-Request-ID"] == me.request_id
        response = dict(me.response_headers)
        assert response["X-Request-ID"] == me.request_id
        assert response["Content-Type"].startswith("application/json")
        assert me.service == "accounts" and me.status == 200 and not me.background
        detail = str(app.query_one("#log-detail", Static).content)
        assert f"Authorization: Bearer {MASK}" in detail
        assert f"X-Request-ID: {me.request_id}" in detail
        assert '"username": "alice"' in detail  # the response body
        assert f"curl -X GET {accounts}/api/me/" in detail
        for exchange in app.http_log.entries:
            text = repr(exchange)
            for secret in (PASSWORD, tokens.access, tokens.refresh):
                assert secret not in text

        login = newest(app, "/api/token/")
        table.move_cursor(row=table.get_row_index(str(login.id)))
        await pilot.press("y")
        copied = shlex.split(app.clipboard)
        assert copied[:4] == ["curl", "-X", "POST", f"{accounts}/api/token/"]
        assert "Content-Type: application/json" in copied
        assert f"X-Request-ID: {login.request_id}" in copied
        body = copied[copied.index("--data-raw") + 1]
        assert body == '{"username":"alice","password":"***"}'
        assert PASSWORD not in app.clipboard


async def test_the_log_follows_the_newest_entry_unless_the_cursor_moved(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        await app.accounts.login("alice", PASSWORD)
        await app.accounts.me()
        table = await open_log(app, pilot)
        await pilot.press("up")  # the person looks at an older exchange
        looked_at = table.selected
        assert looked_at is not None and not table.following
        await app.accounts.me()
        await pilot.pause()
        assert table.selected == looked_at  # not yanked away
        assert shown(app)[-1] == newest(app, "/api/me/")

        await pilot.press("end")  # back at the bottom: follow again
        await app.accounts.verify_token()
        await pilot.pause()
        assert table.following and table.selected == newest(app, "/api/token/verify/")


async def test_the_filter_narrows_by_path_status_service_and_method(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        await app.accounts.login("alice", PASSWORD)
        await app.accounts.me()
        await app.accounts.verify_token("not-a-token")  # a 401
        await app.mail.delete_all()  # a devmail request a person caused
        await open_log(app, pilot)

        await pilot.press("slash")
        assert isinstance(app.focused, Input) and app.focused.id == "log-filter"
        await pilot.press(*"4xx")
        await pilot.pause()
        assert [(e.path, e.status) for e in shown(app)] == [("/api/token/verify/", 401)]

        app.query_one("#log-filter", Input).value = "svc:devmail"
        await pilot.pause()
        assert [(e.method, e.path) for e in shown(app)] == [("DELETE", "/api/v1/messages")]

        app.query_one("#log-filter", Input).value = "method:get me"
        await pilot.pause()
        assert [e.path for e in shown(app)] == ["/api/me/"]

        app.query_one("#log-filter", Input).value = ""
        await pilot.pause()
        assert {e.path for e in shown(app)} >= {"/api/token/", "/api/me/", "/api/v1/messages"}
        await pilot.press("enter")  # Enter in the filter hands the keyboard to the list
        assert isinstance(app.focused, ExchangeTable)


def test_status_terms_match_exactly_or_by_class() -> None:
    from datetime import UTC, datetime

    def exchange(status: int | None) -> Exchange:
        return Exchange(
            1, "accounts", "GET", "u", "/api/me/", status, 1.0, "r", "", "", datetime.now(UTC)
        )

    assert LogFilter.parse("401").matches(exchange(401))
    assert not LogFilter.parse("401").matches(exchange(403))
    assert LogFilter.parse("status:4xx").matches(exchange(403))
    assert not LogFilter.parse("4xx").matches(exchange(None))
    assert LogFilter.parse("err").matches(exchange(None))
    assert not LogFilter.parse("err").matches(exchange(500))


async def test_mailbox_reads_are_hidden_until_asked_for_and_cached(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    await make_user(accounts, devmail, "bob")
    async with tui() as (app, pilot):
        from tui.widgets.mail_table import MailTable

        app.action_show_tab("mailbox")
        mails = app.query_one(MailTable)
        await until(pilot, lambda: mails.row_count == 2, "both mails listed")
        mails.focus()
        for _ in range(3):  # browse up and down: each message is fetched once
            mails.move_cursor(row=0)
            await settle(app, pilot)
            mails.move_cursor(row=1)
            await settle(app, pilot)
        opened = [e for e in app.http_log.entries if e.path.startswith("/api/v1/message/")]
        assert len(opened) == 2 and {e.status for e in opened} == {200}
        assert all(e.background and e.service == "devmail" for e in opened)

        table = await open_log(app, pilot)
        assert not any(e.background for e in shown(app))
        counts = str(app.query_one("#log-counts", Static).content)
        assert "mailbox reads hidden" in counts
        await pilot.press("b")
        assert {e.id for e in opened} <= {e.id for e in shown(app)}
        assert table.selected is not None
        await pilot.press("b")
        assert not any(e.background for e in shown(app))
        assert isinstance(app.query_one(HttpLogPane), HttpLogPane)


async def test_reset_uids_are_masked_in_paths_and_in_mail_bodies(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        await app.accounts.reset_request("alice@example.com")
        found = await app.mail.latest("to:alice@example.com subject:reset", wait=10)
        assert found is not None and found.summary.links
        uid = found.summary.links[0].rstrip("/").rsplit("/", 1)[1]
        await app.accounts.reset_check(uid)
        await settle(app, pilot)
        assert len(uid) > 20
        for exchange in app.http_log.entries:
            everything = repr(exchange) + exchange.curl
            assert uid not in everything
        check = newest(app, f"/api/auth/password/reset/{uid[:4]}{MASK}/")
        assert check.status == 200
        mail_read = next(e for e in app.http_log.entries if e.path == "/api/v1/message/latest")
        assert f"/reset-password/{uid[:4]}{MASK}" in mail_read.response_body
