"""The Sessions list in the Me tab, against the real service: every login of the user with its
client, this one marked; ending one login, all others, or this one."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.tui.conftest import PASSWORD, Devmail, click, make_user, settle, until
from tests.tui.test_session import log_in
from tui.client import USER_AGENT
from tui.screens.session import MePane

OTHER_AGENT = "curl/8.5.0"


async def other_login(accounts: str, username: str) -> dict[str, str]:
    """A second login of the same user from another client."""
    async with (
        aiohttp.ClientSession(accounts, headers={"User-Agent": OTHER_AGENT}) as http,
        http.post("/api/token/", json={"username": username, "password": PASSWORD}) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def refresh_status(accounts: str, refresh: str) -> int:
    async with (
        aiohttp.ClientSession(accounts) as http,
        http.post("/api/token/refresh/", json={"refresh": refresh}) as response,
    ):
        return response.status


def rows(pane: MePane) -> list[list[str]]:
    table = pane.sessions_table
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_sessions_list_marks_this_login_and_ends_all_others(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    first = await other_login(accounts, "alice")
    second = await other_login(accounts, "alice")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "alice")
        me = app.query_one(MePane)
        # signup's verify logged in too (make_user), then the two other clients, then this TUI
        await until(pilot, lambda: me.sessions_table.row_count == 4, "four sessions listed")
        listed = rows(me)
        assert listed[0][0] == "●" and listed[0][4] == USER_AGENT  # this one, first
        assert [r[0] for r in listed[1:]] == [" ", " ", " "]
        assert [r[4] for r in listed[1:]].count(OTHER_AGENT) == 2
        assert all(r[3] == "127.0.0.1" for r in listed)
        assert sum(s.current for s in me.sessions.values()) == 1

        await click(app, pilot, "#sessions-end-others")
        await settle(app, pilot)
        await until(pilot, lambda: me.sessions_table.row_count == 1, "only this one left")
        assert rows(me)[0][0] == "●"
        assert "Ended 3 session(s)" in str(app.query_one("#sessions-status").content)
        assert app.accounts.logged_in
        # the ended logins' refresh tokens died at once; this one still works
        assert await refresh_status(accounts, first["refresh"]) == 401
        assert await refresh_status(accounts, second["refresh"]) == 401
        assert [e.status for e in app.http_log.entries if e.method == "DELETE"] == [204] * 3


async def test_ending_one_selected_session_then_this_one_logs_out(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "bob")
    other = await other_login(accounts, "bob")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "bob")
        me = app.query_one(MePane)
        await until(pilot, lambda: me.sessions_table.row_count == 3, "three sessions listed")
        table = me.sessions_table
        table.focus()
        other_row = next(i for i, r in enumerate(rows(me)) if r[4] == OTHER_AGENT)
        table.move_cursor(row=other_row)
        await pilot.press("delete")
        await settle(app, pilot)
        await until(pilot, lambda: me.sessions_table.row_count == 2, "two sessions left")
        assert OTHER_AGENT not in [r[4] for r in rows(me)]
        assert await refresh_status(accounts, other["refresh"]) == 401
        assert app.accounts.logged_in

        table.move_cursor(row=0)  # this login: ending it is a logout
        await pilot.press("delete")
        await settle(app, pilot)
        assert not app.accounts.logged_in
        assert me.user is None and me.sessions_table.row_count == 0
        assert "logged out" in str(app.query_one("#sessions-status").content)
