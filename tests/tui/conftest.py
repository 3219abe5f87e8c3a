"""TUI fixtures: the real accounts service and the real devmail on ephemeral ports, in the test's
own event loop, with the service mailing to devmail's SMTP port; the app runs under `run_test()`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from textual.pilot import Pilot
from textual.widgets import TabbedContent, TabPane
from textual.worker import WorkerCancelled

from core.clock import FrozenClock
from devmail.api import DEVMAIL_KEY, DevmailServer
from devmail.api import create_app as create_devmail
from devmail.config import Config
from server.app import create_app
from tests.conftest import make_settings
from tui.app import AcctkitApp
from tui.client import MailSummary
from tui.screens.mailbox import MailboxPane
from tui.widgets.form import Field
from tui.widgets.mail_table import MailTable

MAIL_GROUP = "mail-events"
# Workers that loop for the app's whole life: settle() does not wait for them.
ENDLESS_GROUPS = frozenset({MAIL_GROUP, "health", "tokens"})
WAIT_ROUNDS = 500  # x 0.02 s: a bound so a broken test fails instead of hanging
UNTIL_SECONDS = 30.0


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

    async def latest_to(self, address: str, wait: float = 30) -> dict[str, Any]:
        return await self.get("/api/v1/message/latest", query=f"to:{address}", wait=str(wait))


@pytest.fixture
async def devmail() -> AsyncIterator[Devmail]:
    app = create_devmail(Config(smtp_port=0, http_port=0))
    http = TestServer(app, host="127.0.0.1")
    await http.start_server()
    yield Devmail(http, app[DEVMAIL_KEY])
    await http.close()


@pytest.fixture
def clock() -> FrozenClock:
    """The service's clock, starting at the real time (devmail stamps mail with the real time,
    and the mailbox compares the two), moved by hand; the TUI reads the same clock."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


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
def tui(accounts: str, devmail: Devmail, clock: FrozenClock) -> Callable[..., Any]:
    """`async with tui() as (app, pilot):` the app against both services, mailbox connected,
    reading the service's clock; `tui(size=(80, 24))` for another terminal size."""

    @asynccontextmanager
    async def run(
        size: tuple[int, int] = (120, 48),
    ) -> AsyncIterator[tuple[AcctkitApp, Pilot[None]]]:
        app = AcctkitApp(url=accounts, mail_url=devmail.url, now=clock.now)
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.query_one(MailboxPane).live, "mailbox connected")
            yield app, pilot

    return run


async def until(pilot: Pilot[None], predicate: Callable[[], object], what: str) -> None:
    """Let the app run until `predicate()` holds; fail (not hang) if it never does. The bound is
    wall-clock time and generous: mail goes through real SMTP and a real devmail, which on two
    busy cores can take seconds, and a wait that holds costs nothing."""
    deadline = time.monotonic() + UNTIL_SECONDS
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened within {UNTIL_SECONDS:.0f} s: {what}")
        await pilot.pause(0.02)


async def settle(app: AcctkitApp, pilot: Pilot[None]) -> None:
    """Wait for every request worker (not the endless mailbox stream) and the messages they
    post, including workers those messages start."""
    for _ in range(WAIT_ROUNDS):
        await pilot.pause(0)
        busy = [w for w in app.workers if w.group not in ENDLESS_GROUPS and not w.is_finished]
        if not busy:
            await pilot.pause(0)
            if not [w for w in app.workers if w.group not in ENDLESS_GROUPS and not w.is_finished]:
                return
            continue
        with suppress(WorkerCancelled):  # an exclusive worker replaced by a newer one
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


async def show_tab(app: AcctkitApp, pilot: Pilot[None], tab: str) -> None:
    """Switch tabs as a key would, and wait until the tab shows and holds the focus (it moves
    after a refresh: a key pressed before then goes to the old tab's widget)."""
    app.action_show_tab(tab)

    def shown() -> bool:
        pane = app.query_one("#tabs", TabbedContent).get_pane(tab)
        focused = app.focused
        return app.active_tab == tab and focused is not None and pane in focused.ancestors

    await until(pilot, shown, f"the {tab} tab shown and focused")


async def select_mail(app: AcctkitApp, pilot: Pilot[None], mail_id: str) -> None:
    """Open the Mailbox tab and put the cursor (and focus) on one message."""
    await show_tab(app, pilot, "mailbox")
    table = app.query_one(MailTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(mail_id))

    def on_it() -> bool:
        selected = table.selected
        return app.focused is table and selected is not None and selected.id == mail_id

    await until(pilot, on_it, f"mail {mail_id} selected")


async def click(app: AcctkitApp, pilot: Pilot[None], selector: str) -> None:
    """Open the sub-tab holding a button and scroll it into view, as a person would, then click
    it."""
    widget = app.query_one(selector)
    subtabs = []
    for node in widget.ancestors:
        if isinstance(node, TabPane) and node.id:
            holder = next(a for a in node.ancestors if isinstance(a, TabbedContent))
            if holder.id != "tabs":
                subtabs.append((holder, node.id))

    def ready() -> bool:
        # (again each round: a focus still queued in the old sub-tab can switch it back)
        for holder, sub in subtabs:
            if holder.active != sub:
                app.set_focus(None)
                holder.active = sub
        if not widget.region.area:
            widget.scroll_visible(animate=False)
            return False
        # laid out and on screen, or the click lands on the header (which opens the palette);
        # a Button ignores clicks while its 0.2 s press effect lasts (Textual's debounce), so a
        # second click on the same button waits for it, as a person sees the button come back
        return app.screen is widget.screen and not widget.has_class("-active")

    await until(pilot, ready, f"{selector} on screen ({app.screen}, {app.focused})")
    await pilot.pause()
    await pilot.click(selector)
