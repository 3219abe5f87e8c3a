"""The mailbox tells each code's life at a glance (80 columns and up), `u` serves the waiting
flow, and a signup begun elsewhere (or before a restart) resumes from its mail."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import aiosmtplib
import pytest
from textual.widgets import ContentSwitcher, Static

from core.clock import FrozenClock
from tests.tui.conftest import (
    PASSWORD,
    Devmail,
    click,
    fill_signup,
    mail_rows,
    select_mail,
    settle,
    until,
)
from tui.screens.mailbox import MailboxPane
from tui.screens.signup import SignupPane
from tui.widgets.form import Field, FormStatus
from tui.widgets.mail_table import COLUMNS, MAX_MAILS, MailTable
from tui.widgets.wait_strip import WaitStrip


def row(app: Any, mail_id: str) -> dict[str, str]:
    table = app.query_one(MailTable)
    return {key: table.get_cell(mail_id, key).plain for key, *_ in COLUMNS}


@pytest.mark.parametrize("accounts_settings", [{"resend_cooldown": 0}])
async def test_rows_tell_flow_seq_code_state_recipient_and_age_at_80_columns(
    tui: Any, clock: FrozenClock, devmail: Devmail
) -> None:
    async with tui(size=(80, 24)) as (app, pilot):
        table = app.query_one(MailTable)
        fill_signup(app, "alice")
        await click(app, pilot, "#signup-submit")
        await settle(app, pilot)
        await until(pilot, lambda: len(table.mails) == 1, "mail #1")
        app.query_one("#signup-resend").press()
        await settle(app, pilot)
        await until(pilot, lambda: len(table.mails) == 2, "mail #2")
        await until(pilot, lambda: any(m.superseded for m in table.mails.values()), "#1 dead")
        newest, oldest = mail_rows(app)

        # every column fits 80 columns: the table is not wider than its place on screen
        app.action_show_tab("mailbox")
        await pilot.pause()
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert row(app, newest.id) == {
            "flow": "signup",
            "seq": "#2",
            "code": newest.codes[0],
            "state": "current",
            "to": "alice@example.com",
            "age": "0s",
        }
        old = row(app, oldest.id)
        # grouped: the older mail of the same ref sits right under it, marked as its branch
        assert table.get_row_index(oldest.id) == table.get_row_index(newest.id) + 1
        assert old["flow"] == " └ signup" and old["seq"] == "#1"
        assert old["state"] == "superseded by #2"

        # the detail pane: the whole text part and "superseded by code #2 (time)", no message ID
        await select_mail(app, pilot, oldest.id)
        mailbox = app.query_one(MailboxPane)
        await until(pilot, lambda: mailbox.shown and mailbox.shown.summary.id == oldest.id, "open")
        detail = str(app.query_one("#mail-detail", Static).content)
        stamp = newest.created.astimezone().strftime("%H:%M:%S")  # type: ignore[union-attr]
        assert f"superseded by code #2 ({stamp})" in detail
        assert newest.id not in detail
        assert detail.rstrip().endswith("If you did not ask for this, ignore this mail.")

        # the cursor stays where the person put it when new mail arrives...
        assert table.cursor_row == 1
        clock.advance(61)
        app.query_one(SignupPane).resend_code(app.query_one(SignupPane).signup_id)
        await settle(app, pilot)
        await until(pilot, lambda: len(table.mails) == 3, "mail #3")
        assert table.selected is not None and table.selected.id == oldest.id
        # ...and follows the newest while it sits on the top row
        table.move_cursor(row=0)
        app.query_one(SignupPane).resend_code(app.query_one(SignupPane).signup_id)
        await settle(app, pilot)
        await until(pilot, lambda: len(table.mails) == 4, "mail #4")
        # (drawn within REDRAW_EVERY: four mails and their updates in a second are a burst)
        await until(
            pilot,
            lambda: table.selected is not None and table.selected.ref_seq == 4,
            "the cursor on #4",
        )

        # time passes: ages grow and the live code expires (the mail says "10 minutes"; devmail
        # stamps mail with the real time, a little after the frozen clock's start)
        clock.advance(660)
        table.tick()
        head = table.selected
        assert head is not None
        assert row(app, head.id)["state"] == "expired"
        assert "yellow" in str(table.get_cell(head.id, "code").style)  # the whole row restyled
        assert row(app, head.id)["age"] in ("10m", "11m")


async def test_u_takes_the_waiting_signups_newest_current_code_or_says_there_is_none(
    tui: Any, clock: FrozenClock, accounts: str, devmail: Devmail
) -> None:
    async with tui(size=(80, 24)) as (app, pilot):
        table = app.query_one(MailTable)
        # an older signup's mail is in the mailbox and selected
        other = await start_signup(accounts, "zed")
        await until(pilot, lambda: len(table.mails) == 1, "zed's mail")
        zed = mail_rows(app)[0]
        assert zed.ref == other

        fill_signup(app, "alice")
        await click(app, pilot, "#signup-submit")
        await settle(app, pilot)
        await until(pilot, lambda: len(table.mails) == 2, "alice's mail")
        alice = next(m for m in table.mails.values() if m.ref != other)
        await select_mail(app, pilot, zed.id)
        await pilot.press("u")
        await pilot.pause()
        assert app.query_one("#signup-code-field", Field).value == alice.codes[0]
        assert app.query_one(SignupPane).signup_id == alice.ref
        assert "not the selected one" in app.query_one("#mail-status", FormStatus).text

        # eleven minutes later alice's code is dead: `u` says so and fills nothing
        clock.advance(660)
        app.query_one("#signup-code-field", Field).value = ""
        await select_mail(app, pilot, alice.id)
        await pilot.press("u")
        await pilot.pause()
        said = app.query_one("#mail-status", FormStatus).text
        assert said.startswith("No current mail") and alice.ref in said
        assert app.active_tab == "mailbox"
        assert app.query_one("#signup-code-field", Field).value == ""


async def test_a_signup_started_elsewhere_resumes_from_its_mail_and_enter_verifies(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    """As after a restart: this TUI never saw the 202, only the mail."""
    signup_id = await start_signup(accounts, "carol")
    async with tui(size=(80, 24)) as (app, pilot):
        await until(pilot, lambda: mail_rows(app), "carol's mail")
        (mail,) = mail_rows(app)
        await select_mail(app, pilot, mail.id)
        await pilot.press("u")
        await pilot.pause()
        pane = app.query_one(SignupPane)
        assert app.active_tab == "signup"
        assert app.query_one("#signup-steps", ContentSwitcher).current == "signup-code"
        assert pane.signup_id == signup_id
        code = app.query_one("#signup-code-field", Field)
        assert code.value == mail.codes[0]
        assert app.focused is code.input
        strip = str(app.query_one("#signup-strip", WaitStrip).content)
        # the mail's own "expires in 10 minutes", counted from when devmail got it
        assert re.match(r"code #1 · (9:[45]\d|10:0\d) left · resend allowed$", strip), strip

        await pilot.press("enter")
        await settle(app, pilot)
        assert app.accounts.logged_in
        assert str(app.query_one("#signup-strip", WaitStrip).content) == "code #1 · verified"
        assert row(app, mail.id)["state"] == "used"
        detail = app.query_one("#mail-detail", Static)
        await until(pilot, lambda: "State: used" in str(detail.content), "the detail restated")


async def start_signup(accounts: str, username: str) -> str:
    body = {
        "first_name": username.title(),
        "last_name": "Tester",
        "username": username,
        "email": f"{username}@example.com",
        "password": PASSWORD,
    }
    async with (
        aiohttp.ClientSession(accounts) as http,
        http.post("/api/auth/signup/", json=body) as response,
    ):
        assert response.status == 202, await response.text()
        return str((await response.json())["signup_id"])


async def test_f6_puts_the_keyboard_on_the_mail_list(tui: Any, devmail: Devmail) -> None:
    """The tab's first button took the focus, so Down after F6 did nothing."""
    for n in range(3):
        await aiosmtplib.send(
            f"Subject: mail {n}\r\n\r\ncode 12345{n}\r\n",
            sender="a@x.test",
            recipients=[f"r{n}@x.test"],
            hostname="127.0.0.1",
            port=devmail.smtp_port,
        )
    async with tui(size=(80, 24)) as (app, pilot):
        table = app.query_one(MailTable)
        await until(pilot, lambda: len(table.mails) == 3, "three mails listed")
        await pilot.press("f6")
        await until(pilot, lambda: app.focused is table, "the list focused")
        await pilot.press("down", "down")
        await until(pilot, lambda: table.cursor_row == 2, "the cursor two rows down")
        assert table.selected is not None and table.selected.id == mail_rows(app)[2].id


async def test_a_burst_of_mail_keeps_the_newest_and_redraws_a_few_times(
    tui: Any, devmail: Devmail
) -> None:
    """Every event rebuilt every row, and every mail ever seen stayed: 1,000 resent codes
    froze the TUI for 80 s. The list now keeps the newest MAX_MAILS and redraws at most every
    REDRAW_EVERY while events pour in."""
    count = MAX_MAILS + 100
    async with tui(size=(80, 24)) as (app, pilot):
        table = app.query_one(MailTable)
        pane = app.query_one(MailboxPane)
        before = (table.redraws, pane.events_seen)
        label = app.query_one("#mail-connection", Static)
        assert str(label.content) == "live: 0 mail(s)"
        assert label.tooltip == devmail.url  # the address, whole, where 80 columns cut it
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=devmail.smtp_port) as smtp:
            for n in range(count):
                body = (
                    f"Subject: code {n}\r\nX-Acctkit-Flow: signup\r\nX-Acctkit-Ref: r{n % 20}\r\n"
                    f"X-Acctkit-Seq: {n // 20 + 1}\r\n\r\ncode {n:06d}\r\n"
                )
                await smtp.sendmail("a@x.test", [f"p{n % 20}@x.test"], body)
        newest = f"code {count - 1}"
        await until(pilot, lambda: any(m.subject == newest for m in table.mails.values()), newest)
        await until(pilot, lambda: table.row_count == MAX_MAILS, "every kept mail drawn")
        assert len(table.mails) == MAX_MAILS
        await until(pilot, lambda: str(label.content) == f"live: newest {MAX_MAILS} shown", "")
        assert min(int(m.subject.split()[1]) for m in table.mails.values()) == 100
        events = pane.events_seen - before[1]
        assert events > count  # each resend also updates the codes it supersedes
        assert table.redraws - before[0] < events / 10, (table.redraws, events)
        # a code two digits into its resends still names its successor whole (it read "#2")
        nineteenth = next(m for m in table.mails.values() if m.ref_seq == 19)

        def names_twenty() -> bool:  # its row may wait for the burst's last redraw
            return nineteenth.id in table.rows and row(app, nineteenth.id)["state"] == (
                "superseded #20"
            )

        await until(pilot, names_twenty, "the state names #20")
