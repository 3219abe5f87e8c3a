"""Signup through the TUI against the real service, with the mail read from the live mailbox."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Button, ContentSwitcher, Static

from core.clock import FrozenClock
from tests.tui.conftest import (
    PASSWORD,
    Devmail,
    click,
    fill,
    fill_signup,
    mail_rows,
    select_mail,
    settle,
    until,
)
from tui.screens.mailbox import MailboxPane
from tui.screens.session import MePane
from tui.screens.signup import SignupPane
from tui.widgets.form import Field, FormStatus
from tui.widgets.mail_table import MailTable
from tui.widgets.status_line import StatusLine
from tui.widgets.wait_strip import WaitStrip


def text_of(app: Any, selector: str) -> str:
    return str(app.query_one(selector, Static).content)


async def test_signup_mail_arrives_live_and_use_this_code_verifies(
    tui: Any, devmail: Devmail
) -> None:
    async with tui() as (app, pilot):
        mailbox = app.query_one(MailboxPane)
        assert mail_rows(app) == []  # listed empty: whatever shows up next came over the socket

        fill_signup(app, "alice")
        await click(app, pilot, "#signup-submit")
        await settle(app, pilot)

        signup = app.query_one(SignupPane)
        assert app.query_one("#signup-steps", ContentSwitcher).current == "signup-code"
        assert signup.signup_id
        expect = text_of(app, "#signup-expect")
        assert signup.signup_id in expect and "expecting code #1" in expect

        await until(pilot, lambda: len(mail_rows(app)) == 1, "the mail in the mailbox")
        assert mailbox.events_seen >= 1
        (row,) = mail_rows(app)
        assert (row.flow, row.ref, row.ref_seq, row.to_text) == (
            "signup",
            signup.signup_id,
            1,
            "alice@example.com",
        )
        mailed = await devmail.latest_to("alice@example.com")
        assert row.codes == tuple(mailed["Codes"]) and len(row.codes) == 1

        await select_mail(app, pilot, row.id)
        await pilot.press("u")
        await pilot.pause()
        assert app.active_tab == "signup"
        assert app.query_one("#signup-code-field", Field).value == mailed["Codes"][0]
        assert "Press Verify" in app.query_one("#signup-code-status", FormStatus).text

        await click(app, pilot, "#signup-verify")
        await settle(app, pilot)
        assert app.active_tab == "me"
        me = app.query_one(MePane)
        assert me.user is not None and me.user.username == "alice"
        assert "email:          alice@example.com" in text_of(app, "#me-user")
        assert "logged in as alice" in str(app.query_one(StatusLine).content)


@pytest.mark.parametrize("accounts_settings", [{"resend_cooldown": 0}])
async def test_resend_marks_first_mail_superseded_and_its_code_says_so(
    tui: Any, devmail: Devmail
) -> None:
    async with tui() as (app, pilot):
        fill_signup(app, "bob")
        await click(app, pilot, "#signup-submit")
        await settle(app, pilot)
        await until(pilot, lambda: len(mail_rows(app)) == 1, "mail #1")
        first = mail_rows(app)[0]

        await click(app, pilot, "#signup-resend")
        await settle(app, pilot)
        assert "expecting code #2" in text_of(app, "#signup-expect")
        await until(
            pilot,
            lambda: (
                len(mail_rows(app)) == 2 and app.query_one(MailTable).mails[first.id].superseded
            ),
            "mail #2 and mail #1 marked superseded",
        )
        newest, oldest = mail_rows(app)
        assert (newest.ref_seq, oldest.ref_seq) == (2, 1)
        assert oldest.superseded_by == newest.id and not newest.superseded
        table = app.query_one(MailTable)
        state = table.get_cell(oldest.id, "state")
        assert state.plain == "superseded by #2" and "red" in str(state.style)
        assert "strike" in str(table.get_cell(oldest.id, "code").style)
        assert table.get_cell(newest.id, "state").plain == "current"

        # `u` on the dead mail takes the newest current code of the waiting signup instead
        await select_mail(app, pilot, oldest.id)
        await pilot.press("u")
        await pilot.pause()
        assert app.query_one("#signup-code-field", Field).value == newest.codes[0]
        said = app.query_one("#mail-status", FormStatus).text
        assert "code #2" in said and "not the selected one" in said

        # the dead code typed by hand: the service says which code replaced it
        fill(app, signup_code_field=oldest.codes[0])
        await click(app, pilot, "#signup-verify")
        await settle(app, pilot)
        status = app.query_one("#signup-code-status", FormStatus).text
        assert "code_superseded" in status and "code #1" in status and "#2" in status
        assert app.query_one(MePane).user is None

        await select_mail(app, pilot, newest.id)
        await pilot.press("u")
        await click(app, pilot, "#signup-verify")
        await settle(app, pilot)
        me = app.query_one(MePane).user
        assert me is not None and me.username == "bob"


async def test_wrong_code_shows_attempts_left(tui: Any, devmail: Devmail) -> None:
    async with tui() as (app, pilot):
        fill_signup(app, "carol")
        await click(app, pilot, "#signup-submit")
        await settle(app, pilot)
        real = (await devmail.latest_to("carol@example.com"))["Codes"][0]
        wrong = f"{(int(real) + 1) % 1_000_000:06d}"

        fill(app, signup_code_field=wrong)
        await click(app, pilot, "#signup-verify")
        await settle(app, pilot)
        assert "4 attempts left" in str(app.query_one("#signup-strip", WaitStrip).content)
        status = app.query_one("#signup-code-status", FormStatus)
        assert "code_invalid" in status.text and "4 attempt(s) left" in status.text
        assert status.has_class("-error")
        assert app.query_one(MePane).user is None


async def test_resend_waits_for_resend_after_and_a_429_restarts_the_countdown(
    tui: Any, clock: FrozenClock
) -> None:
    async with tui() as (app, pilot):
        fill_signup(app, "dave")
        await click(app, pilot, "#signup-submit")
        await settle(app, pilot)
        strip = app.query_one("#signup-strip", WaitStrip)
        resend = app.query_one("#signup-resend", Button)
        # the 202's resend_after (60 s cooldown) disables Resend at once
        assert resend.disabled
        assert str(strip.content) == "code #1 · 10:00 left · resend in 1:00"

        clock.advance(45)
        strip.tick()
        await pilot.pause()
        assert str(strip.content) == "code #1 · 9:15 left · resend in 0:15"
        assert resend.disabled

        clock.advance(15)
        strip.tick()
        await pilot.pause()
        assert not resend.disabled and "resend allowed" in str(strip.content)
        await click(app, pilot, "#signup-resend")
        await settle(app, pilot)
        assert str(strip.content) == "code #2 · 10:00 left · resend in 1:00"
        assert "expecting code #2" in text_of(app, "#signup-expect")

        # the service's 429 (here: a resend sent around the disabled button) wins over the 202
        pane = app.query_one(SignupPane)
        strip.resend_after = None
        pane.resend_code(pane.signup_id)
        await settle(app, pilot)
        assert "resend_too_soon" in app.query_one("#signup-code-status", FormStatus).text
        assert resend.disabled and "resend in 1:00" in str(strip.content)

        clock.advance(601)
        strip.tick()
        assert "code #2 · expired" in str(strip.content) and strip.has_class("-dead")


async def test_invalid_fields_are_shown_next_to_their_fields(tui: Any) -> None:
    async with tui() as (app, pilot):
        fill_signup(app, "erin", password="erin")
        fill(app, signup_email="not-an-email")
        await click(app, pilot, "#signup-submit")
        await settle(app, pilot)
        assert app.query_one("#signup-steps", ContentSwitcher).current == "signup-form"
        assert app.query_one("#signup-email", Field).error
        assert app.query_one("#signup-password", Field).error
        assert app.query_one("#signup-email", Field).has_class("-invalid")
        assert app.query_one("#signup-username", Field).error == ""
        assert "[400 invalid]" in app.query_one("#signup-form-status", FormStatus).text


async def test_typing_at_start_fills_the_signup_form_and_submits(tui, devmail) -> None:
    """Keys only, from the moment the app opens: focus starts in the first field."""
    async with tui() as (app, pilot):
        for text in ("Alice", "Liddell", "typist", "typist@example.com"):
            await pilot.press(*text, "tab")
        await pilot.press(*PASSWORD, "enter")
        await settle(app, pilot)
        mail = await devmail.latest_to("typist@example.com")
        assert mail["Flow"] == "signup"


async def test_use_this_code_then_enter_verifies(tui, devmail) -> None:
    """From the mailbox, `u` then Enter is all it takes: the code field has focus."""
    async with tui() as (app, pilot):
        fill_signup(app, "bob")
        await pilot.press("enter")
        await settle(app, pilot)
        await until(pilot, lambda: mail_rows(app), "the mail in the mailbox")
        app.action_show_tab("mailbox")
        await pilot.pause()
        await pilot.press("u")
        await pilot.pause()
        assert app.focused is app.query_one("#signup-code-field", Field).query_one("Input")
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.accounts.logged_in
