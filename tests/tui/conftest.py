"""TUI fixtures: the real accounts service and the real devmail on ephemeral ports, in the test's
own event loop, with the service mailing to devmail's SMTP port; the app runs under `run_test()`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from textual.pilot import Pilot

from core.clock import FrozenClock
from devmail.api import DEVMAIL_KEY, DevmailServer
from devmail.api import create_app as create_devmail
from devmail.config import Config
from server.app import create_app
from tests.conftest import make_settings
from tui.api import MailSummary
from tui.app import AcctkitApp
from tui.screens.mailbox import MailboxPane
from tui.widgets.form import Field
from tui.widgets.mail_table import MailTable

MAIL_GROUP = "mail-events"
WAIT_ROUNDS = 500  # x 0.02 s: a bound so a broken test fails instead of hanging


@dataclass
class Devmail:
    http: TestServer
    server: DevmailServer

    @property
    def smtp_port(self) -> int:
        return self.server.smtp_port

    @property
    def url(self) -> str:
        return str(self.http.make_url("")).rstrip("/")

    async def get(self, path: str, **params: str) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.url + path, params=params) as response,
        ):
            assert response.status == 200, await response.text()
            return await response.json()

    async def latest_to(self, address: str, wait: float = 10) -> dict[str, Any]:
        return await self.get("/api/v1/message/latest", query=f"to:{address}", wait=str(wait))


@pytest.fixture
async def devmail() -> AsyncIterator[Devmail]:
    app = create_devmail(Config(smtp_port=0, http_port=0))
    http = TestServer(app, host="127.0.0.1")
    await http.start_server()
    yield Devmail(http, app[DEVMAIL_KEY])
    await http.close()


@pytest.fixture
def accounts_settings() -> dict[str, Any]:
    """Settings changes a test can make before the service starts (override in a module)."""
    return {}


@pytest.fixture
async def accounts(
    sqlite_url: str, clock: FrozenClock, devmail: Devmail, accounts_settings: dict[str, Any]
) -> AsyncIterator[str]:
    settings = make_settings(
        sqlite_url, smtp_url=f"smtp://127.0.0.1:{devmail.smtp_port}", **accounts_settings
    )
    app = create_app(settings, clock=clock)  # enqueueing wakes the sender: no fast polling
    http = TestServer(app, host="127.0.0.1")
    await http.start_server()
    yield str(http.make_url("")).rstrip("/")
    await http.close()


@pytest.fixture
def tui(accounts: str, devmail: Devmail) -> Callable[[], Any]:
    """`async with tui() as (app, pilot):` the app against both services, mailbox connected."""

    @asynccontextmanager
    async def run() -> AsyncIterator[tuple[AcctkitApp, Pilot[None]]]:
        app = AcctkitApp(url=accounts, mail_url=devmail.url)
        async with app.run_test(size=(120, 48)) as pilot:
            await until(pilot, lambda: app.query_one(MailboxPane).live, "mailbox connected")
            yield app, pilot

    return run


async def until(pilot: Pilot[None], predicate: Callable[[], object], what: str) -> None:
    """Let the app run until `predicate()` holds; fail (not hang) if it never does."""
    for _ in range(WAIT_ROUNDS):
        if predicate():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never happened: {what}")


async def settle(app: AcctkitApp, pilot: Pilot[None]) -> None:
    """Wait for every request worker (not the endless mailbox stream) and the messages they
    post, including workers those messages start."""
    for _ in range(WAIT_ROUNDS):
        await pilot.pause(0)
        busy = [w for w in app.workers if w.group != MAIL_GROUP and not w.is_finished]
        if not busy:
            await pilot.pause(0)
            if not [w for w in app.workers if w.group != MAIL_GROUP and not w.is_finished]:
                return
            continue
        await app.workers.wait_for_complete(busy)
    raise AssertionError("workers never settled")


PASSWORD = "rabbit-hole-2026"


def fill(app: AcctkitApp, **values: str) -> None:
    """Set Field values by widget id (underscores stand for hyphens)."""
    for widget_id, value in values.items():
        app.query_one(f"#{widget_id.replace('_', '-')}", Field).value = value


def fill_signup(app: AcctkitApp, username: str, password: str = PASSWORD) -> None:
    fill(
        app,
        signup_first_name=username.title(),
        signup_last_name="Tester",
        signup_username=username,
        signup_email=f"{username}@example.com",
        signup_password=password,
    )


async def make_user(accounts: str, devmail: Devmail, username: str) -> None:
    """A verified user made over plain HTTP, for tests whose subject is not signup."""
    email = f"{username}@example.com"
    async with aiohttp.ClientSession(accounts) as http:
        body = {
            "first_name": username.title(),
            "last_name": "Tester",
            "username": username,
            "email": email,
            "password": PASSWORD,
        }
        async with http.post("/api/auth/signup/", json=body) as response:
            assert response.status == 202, await response.text()
            signup_id = (await response.json())["signup_id"]
        mail = await devmail.latest_to(email)
        assert mail["Ref"] == signup_id
        verify = {"signup_id": signup_id, "code": mail["Codes"][0]}
        async with http.post("/api/auth/signup/verify/", json=verify) as response:
            assert response.status == 201, await response.text()


def mail_rows(app: AcctkitApp) -> list[MailSummary]:
    return app.query_one(MailTable).ordered()


async def select_mail(app: AcctkitApp, pilot: Pilot[None], mail_id: str) -> None:
    """Open the Mailbox tab and put the cursor (and focus) on one message."""
    app.action_show_tab("mailbox")
    table = app.query_one(MailTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(mail_id))
    await pilot.pause()


async def click(app: AcctkitApp, pilot: Pilot[None], selector: str) -> None:
    """Scroll a button into view, as a person would, then click it."""
    app.query_one(selector).scroll_visible(animate=False)
    await pilot.pause()
    await pilot.click(selector)
