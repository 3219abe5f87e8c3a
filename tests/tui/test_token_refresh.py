"""Access tokens are refreshed shortly before they expire, timed from the token's own lifetime
on our clock; concurrent callers share one refresh."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from tests.tui.conftest import PASSWORD, Devmail, make_user, until
from tui.client import AccountsClient
from tui.client.accounts import access_lifetime


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def accounts_settings() -> dict[str, Any]:
    return {"access_ttl": 8}


async def test_refresh_is_due_a_quarter_of_the_lifetime_early(
    accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    clock = Clock()
    client = AccountsClient(accounts, clock=clock)
    try:
        first = await client.login("alice", PASSWORD)
        assert access_lifetime(first.access) == 8
        assert client.refresh_in() == pytest.approx(6.0)
        assert not await client.refresh_if_due()
        clock.now += 6.1
        # The timer and a request racing for the due refresh: one refresh, both succeed.
        did, user = await asyncio.gather(client.refresh_if_due(), client.me())
        assert did and user.username == "alice"
        refreshes = [e for e in client.log.entries if e.path == "/api/token/refresh/"]
        assert [e.status for e in refreshes] == [200]
        assert client.tokens is not None and client.tokens.refresh != first.refresh
        assert client.refresh_in() == pytest.approx(6.0)
    finally:
        await client.close()


async def test_a_refused_refresh_ends_the_login_but_an_unreachable_one_does_not(
    accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    clock = Clock()
    client, elsewhere = AccountsClient(accounts, clock=clock), AccountsClient(accounts)
    try:
        await client.login("alice", PASSWORD)
        clock.now += 8
        client._http.base_url = "http://127.0.0.1:9"
        with pytest.raises(Exception) as caught:
            await client.refresh_if_due()
        assert getattr(caught.value, "status", None) == 0 and client.logged_in
        client._http.base_url = accounts
        await elsewhere.login("alice", PASSWORD)
        await elsewhere.logout_all()
        with pytest.raises(Exception) as caught:
            await client.refresh_if_due()
        assert getattr(caught.value, "status", None) == 401 and not client.logged_in
    finally:
        await client.close()
        await elsewhere.close()


async def test_the_tui_refreshes_before_expiry_without_a_401(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        first = await app.accounts.login("alice", PASSWORD)
        login = app.http_log.entries[-1]
        await until(
            pilot,
            lambda: any(e.path == "/api/token/refresh/" for e in app.http_log.entries),
            "a refresh ahead of expiry",
        )
        refresh = next(e for e in app.http_log.entries if e.path == "/api/token/refresh/")
        assert refresh.status == 200
        # Timed from when the token arrived (the login's answer), as the client does.
        arrived = login.started + timedelta(milliseconds=login.duration_ms)
        after = (refresh.started - arrived).total_seconds()
        assert 5.5 < after < 8.0, after  # due at 6 s of an 8 s token: before it expires
        assert app.accounts.tokens is not None and app.accounts.tokens.access != first.access
        assert not [e for e in app.http_log.entries if e.status == 401]
        assert (await app.accounts.me()).username == "alice"
