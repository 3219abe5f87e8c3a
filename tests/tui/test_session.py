"""Log in, Me, logging out, the silent refresh after an access token expires, and the HTTP log."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from textual.widgets import Static

from core.clock import FrozenClock
from tests.tui.conftest import PASSWORD, Devmail, click, fill, make_user, settle, show_tab
from tui.client import MASK, Exchange
from tui.screens.http_log import ExchangeTable
from tui.screens.session import MePane
from tui.widgets.form import Field, FormStatus


def calls(app: Any) -> list[tuple[str, str, int | None]]:
    """The accounts exchanges so far (the mailbox's own traffic is not the subject here)."""
    return [(e.method, e.path, e.status) for e in app.http_log.entries if e.service == "accounts"]


async def log_in(app: Any, pilot: Any, username: str, password: str = PASSWORD) -> None:
    await show_tab(app, pilot, "login")
    fill(app, login_username=username, login_password=password)
    await click(app, pilot, "#login-submit")  # waits until laid out: else it lands on the header
    await settle(app, pilot)


async def test_login_failure_shows_the_problem_detail(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "alice", "not-the-password")
        status = app.query_one("#login-status", FormStatus)
        assert status.text == (
            "No active account found with the given credentials. [401 invalid_credentials]"
        )
        assert status.has_class("-error")
        assert not app.accounts.logged_in
        assert app.active_tab == "login"
        assert app.query_one(MePane).user is None


async def test_login_shows_me_and_logout_revokes(tui: Any, accounts: str, devmail: Devmail) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "alice@example.com")  # the email works in the username field
        assert app.active_tab == "me"
        me = app.query_one(MePane)
        assert me.user is not None and me.user.username == "alice"
        refresh = app.accounts.tokens.refresh

        await click(app, pilot, "#me-logout")
        await settle(app, pilot)
        assert me.user is None and not app.accounts.logged_in
        assert str(app.query_one("#me-user", Static).content) == "Not logged in."
        assert ("POST", "/api/token/revoke/", 204) in calls(app)
        async with (
            aiohttp.ClientSession(accounts) as http,
            http.post("/api/token/refresh/", json={"refresh": refresh}) as response,
        ):
            assert response.status == 401  # revoked on the server, not just forgotten here


async def test_logout_everywhere_revokes_other_logins(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "alice")
        first = app.accounts.tokens
        await log_in(app, pilot, "alice")  # a second login, as from another device
        assert app.accounts.tokens != first

        await click(app, pilot, "#me-logout-all")
        await settle(app, pilot)
        assert ("POST", "/api/auth/logout-all/", 204) in calls(app)
        assert not app.accounts.logged_in
        assert "everywhere" in app.query_one("#me-status", FormStatus).text
        assert not await app.accounts.verify_token(first.access)


async def test_expired_access_token_is_refreshed_once_and_the_call_retried(
    tui: Any, accounts: str, devmail: Devmail, clock: FrozenClock
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "alice")
        before = app.accounts.tokens
        clock.advance(301)  # past the 300 s access lifetime, well within the refresh's day

        await click(app, pilot, "#me-refresh")
        await settle(app, pilot)
        # (Me then lists the sessions: that call is not the subject here)
        assert [c for c in calls(app) if c[1] != "/api/me/sessions/"][-3:] == [
            ("GET", "/api/me/", 401),
            ("POST", "/api/token/refresh/", 200),
            ("GET", "/api/me/", 200),
        ]
        assert app.accounts.tokens is not None and app.accounts.tokens != before
        assert app.query_one(MePane).user is not None
        assert app.query_one("#me-status", FormStatus).text == "Loaded /api/me/."


async def test_http_log_lists_every_exchange_with_secrets_masked(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "alice")
        tokens = app.accounts.tokens
        assert tokens is not None
        await click(app, pilot, "#me-refresh")
        await settle(app, pilot)

        # The mailbox's own reads are hidden from the list until asked for.
        entries: list[Exchange] = [e for e in app.http_log.entries if not e.background]
        table = app.query_one(ExchangeTable)
        assert table.row_count == len(entries)
        paths = [str(table.get_cell(str(e.id), "path")) for e in entries]
        assert paths == [e.path for e in entries]
        login = next(e for e in entries if e.path == "/api/token/")
        assert (login.method, login.status) == ("POST", 200)
        assert json.loads(login.request_body) == {"username": "alice", "password": MASK}
        assert json.loads(login.response_body) == {"access": MASK, "refresh": MASK}
        assert len(login.request_id) == 32 and table.get_cell(str(login.id), "request id")
        for entry in entries:
            for secret in (PASSWORD, tokens.access, tokens.refresh):
                assert secret not in entry.request_body + entry.response_body + entry.url

        app.action_show_tab("log")
        table.move_cursor(row=table.get_row_index(str(login.id)))
        await pilot.pause()
        detail = str(app.query_one("#log-detail", Static).content)
        assert f"POST {accounts}/api/token/" in detail
        assert f"request id {login.request_id}" in detail
        assert '"password": "***"' in detail and PASSWORD not in detail
        assert app.query_one("#login-password", Field).value == ""
