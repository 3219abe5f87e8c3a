"""The mailbox switches devmail's chaos (SMTP faults on demand) on and off, against a real
devmail: GET /api/v1/chaos reflects each press, and mail stops and flows again with it."""

from __future__ import annotations

from typing import Any

import aiohttp
from textual.widgets import Button

from core.clock import FrozenClock
from tests.tui.conftest import Devmail, click, fill_signup, mail_rows, settle, until
from tui.screens.mailbox import MailboxPane


def label(app: Any) -> str:
    return str(app.query_one("#mail-chaos", Button).label)


async def test_c_cycles_devmail_chaos_and_mail_waits_until_it_is_off(
    tui: Any, devmail: Devmail, clock: FrozenClock
) -> None:
    async with tui(size=(80, 24)) as (app, pilot):
        await until(pilot, lambda: label(app) == "Chaos: off", "chaos state read on connect")
        app.action_show_tab("mailbox")
        await pilot.pause()
        app.query_one("#mail-table").focus()

        await pilot.press("c")
        await settle(app, pilot)
        assert label(app) == "Chaos: Sender 451 50%"
        said = await devmail.get("/api/v1/chaos")
        assert said["Sender"] == {"ErrorCode": 451, "Probability": 50}
        assert said["Data"]["Probability"] == 0

        await pilot.press("c")
        await settle(app, pilot)
        assert label(app) == "Chaos: Data 451 100%"
        assert app.query_one("#mail-chaos", Button).variant == "warning"
        # the button shows its whole label, and the connection's state still fits beside it
        assert app.query_one("#mail-chaos", Button).content_region.width >= len(label(app))
        assert app.query_one("#mail-connection").content_region.width >= len("live: 0 mail(s)")
        said = await devmail.get("/api/v1/chaos")
        assert said["Data"] == {"ErrorCode": 451, "Probability": 100}
        assert said["Sender"]["Probability"] == 0
        assert "Data 451 100%" in str(app.query_one("#mail-status").content)

        # every mail is refused at DATA now: the signup answers 202 and its mail waits
        app.action_show_tab("signup")
        await pilot.pause()
        fill_signup(app, "erin")
        await click(app, pilot, "#signup-submit")
        await settle(app, pilot)
        await until(pilot, lambda: devmail.server.stats.rejected > 0, "a refused SMTP DATA")
        assert mail_rows(app) == []

        app.action_show_tab("mailbox")
        await pilot.pause()
        app.query_one("#mail-table").focus()
        await pilot.press("c")
        await settle(app, pilot)
        assert label(app) == "Chaos: off"
        said = await devmail.get("/api/v1/chaos")
        assert all(said[stage]["Probability"] == 0 for stage in ("Sender", "Data"))
        clock.advance(30)  # past the mail's retry backoff, on the service's clock
        await until(pilot, lambda: len(mail_rows(app)) == 1, "the mail once chaos is off")
        assert mail_rows(app)[0].to_text == "erin@example.com"


async def test_chaos_set_elsewhere_shows_after_reload(tui: Any, devmail: Devmail) -> None:
    async with tui() as (app, pilot):
        pane = app.query_one(MailboxPane)
        await until(pilot, lambda: pane.chaos is not None, "chaos state read on connect")
        latency = {"Latency": {"Stage": "Data", "Milliseconds": 200, "Probability": 100}}
        async with (
            aiohttp.ClientSession() as http,
            http.put(devmail.url + "/api/v1/chaos", json=latency) as response,
        ):
            assert response.status == 200
        assert label(app) == "Chaos: off"
        app.action_show_tab("mailbox")
        await pilot.pause()
        app.query_one("#mail-table").focus()
        await pilot.press("r")
        await settle(app, pilot)
        assert label(app) == "Chaos: +200 ms at Data 100%"
        await pilot.press("c")  # not a preset: the next press turns it off
        await settle(app, pilot)
        assert label(app) == "Chaos: off"
        assert (await devmail.get("/api/v1/chaos"))["Latency"]["Milliseconds"] == 0
