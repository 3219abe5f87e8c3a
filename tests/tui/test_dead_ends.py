"""What a person walking the TUI by hand ran into: a button that left the keyboard nowhere,
editing keys of a burst applied out of order, a strip that offered what the service refuses,
details and counts about things that are gone, a login shown after the service ended it, a
jump away from the form that said what happened, and a line too long to read at 80 columns."""

from __future__ import annotations

from typing import Any

import pytest
from textual import events
from textual.widgets import Button, ContentSwitcher, Static

from core.clock import FrozenClock
from tests.tui.conftest import (
    PASSWORD,
    Devmail,
    click,
    fill,
    fill_signup,
    mail_rows,
    make_user,
    select_mail,
    settle,
    show_tab,
    until,
)
from tests.tui.test_session import log_in
from tui.app import AcctkitApp
from tui.screens.mailbox import MailboxPane
from tui.screens.session import MePane
from tui.screens.trace import TraceScreen
from tui.widgets.form import Field, FormStatus
from tui.widgets.mail_table import MailTable
from tui.widgets.status_line import StatusLine
from tui.widgets.wait_strip import WaitStrip


async def test_start_over_puts_the_keyboard_back_in_the_signup_form(tui: Any) -> None:
    """Start over hid the button that had focus: keys went nowhere, and the form still said
    its old signup had started."""
    async with tui(size=(80, 24)) as (app, pilot):
        fill_signup(app, "olga")
        await click(app, pilot, "#signup-submit")
        await settle(app, pilot)
        assert app.query_one("#signup-steps", ContentSwitcher).current == "signup-code"

        await click(app, pilot, "#signup-restart")
        first = app.query_one("#signup-first-name", Field)
        await until(pilot, lambda: app.focused is first.input, "focus in the first field")
        await pilot.press("Z")
        assert first.value == "Z"
        status = app.query_one("#signup-form-status", FormStatus).text
        assert "started." not in status


async def test_a_locked_signup_offers_no_resend(tui: Any, clock: FrozenClock) -> None:
    """After the last wrong code the service refuses a resend (start again); the strip counted
    down to "resend allowed" (beside "0 attempts left") and enabled Resend anyway."""
    async with tui() as (app, pilot):
        fill_signup(app, "pavel")
        await click(app, pilot, "#signup-submit")
        await settle(app, pilot)
        for _ in range(5):  # the fifth wrong code answers "0 attempts left": locked now
            fill(app, signup_code_field="000000")
            app.query_one("#signup-verify", Button).press()
            await settle(app, pilot)
        assert "0 attempt(s) left" in app.query_one("#signup-code-status", FormStatus).text

        clock.advance(61)  # past the resend cooldown
        strip = app.query_one("#signup-strip", WaitStrip)
        strip.tick()
        await pilot.pause()
        assert "locked" in str(strip.content)
        assert "resend" not in str(strip.content)
        assert app.query_one("#signup-resend", Button).disabled


async def test_delete_all_clears_the_detail_of_the_mail_it_deleted(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "quinn")
    async with tui() as (app, pilot):
        await until(pilot, lambda: mail_rows(app), "the signup mail")
        (mail,) = mail_rows(app)
        await select_mail(app, pilot, mail.id)
        detail = app.query_one("#mail-detail", Static)
        await until(pilot, lambda: mail.id in str(detail.content), "its detail shown")

        await pilot.press("x")
        await settle(app, pilot)
        await until(pilot, lambda: not app.query_one(MailTable).mails, "the list empty")
        await pilot.pause()
        assert mail.id not in str(detail.content)
        assert app.query_one(MailboxPane).shown is None


async def reset_password(app: Any, pilot: Any, email: str) -> None:
    """Forgot password, the link from the mailbox (`u`), a new password: all in the TUI."""
    app.action_show_tab("password")
    await pilot.pause()
    fill(app, reset_email=email)
    await click(app, pilot, "#reset-request")
    await settle(app, pilot)
    await until(
        pilot, lambda: any(m.flow == "password-reset" for m in mail_rows(app)), "the reset mail"
    )
    mail = next(m for m in mail_rows(app) if m.flow == "password-reset")
    await select_mail(app, pilot, mail.id)
    await pilot.press("u")
    await settle(app, pilot)
    fill(app, reset_new="brand-new-2031", reset_again="brand-new-2031")
    await click(app, pilot, "#reset-confirm")
    await settle(app, pilot)
    assert app.query_one("#password-reset").query_one(FormStatus).has_class("-ok")


async def test_a_reset_of_the_logged_in_user_shows_the_login_ended(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    """Setting a password through a reset link revokes every login of that user, this TUI's
    too; it went on saying "logged in as ..." until some later request failed."""
    await make_user(accounts, devmail, "rosa")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "rosa")
        assert app.accounts.logged_in
        await reset_password(app, pilot, "rosa@example.com")

        await until(pilot, lambda: not app.accounts.logged_in, "the login seen ended")
        await settle(app, pilot)
        assert "not logged in" in str(app.query_one(StatusLine).content)


async def test_a_reset_of_another_user_keeps_this_login(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "sam")
    await make_user(accounts, devmail, "tess")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "sam")
        await reset_password(app, pilot, "tess@example.com")
        assert app.accounts.logged_in
        assert "logged in as sam" in str(app.query_one(StatusLine).content)


@pytest.mark.parametrize("size", [(80, 24)])
async def test_the_mailbox_says_it_is_offline_in_words_that_fit(
    tui: Any, devmail: Devmail, size: tuple[int, int]
) -> None:
    async with tui(size=size) as (app, pilot):
        mailbox = app.query_one(MailboxPane)
        app.action_show_tab("mailbox")
        await pilot.pause()
        await devmail.http.close()
        await until(pilot, lambda: not mailbox.live, "the stream seen ended")
        await pilot.pause()
        line = app.query_one("#mail-connection", Static)
        text = str(line.content)
        assert text.startswith("offline")
        assert len(text) <= line.content_region.width, (text, line.content_region.width)


async def test_a_name_cleared_in_the_profile_is_refused_next_to_its_field(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    """A blank field was left out of the PATCH, and the form said "Saved." over the old name."""
    await make_user(accounts, devmail, "uma")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "uma")
        app.action_show_tab("profile")
        await pilot.pause()
        fill(app, profile_last_name="")
        await click(app, pilot, "#profile-save")
        await settle(app, pilot)
        status = app.query_one("#profile-names").query_one(FormStatus)
        assert "Saved." not in status.text and "[400 invalid]" in status.text
        assert "blank" in app.query_one("#profile-last-name", Field).error


async def test_a_late_mail_expires_when_the_service_said_not_later(
    tui: Any, clock: FrozenClock
) -> None:
    """Mail held back (devmail's chaos, an SMTP outage) arrives late; the list timed its code
    from the arrival and showed it current after the service had let it expire."""
    async with tui() as (app, pilot):
        clock.advance(-30)  # the code is issued 30 s before its mail lands, as a retried mail
        fill_signup(app, "vera")
        await click(app, pilot, "#signup-submit")
        await settle(app, pilot)
        await until(pilot, lambda: mail_rows(app), "the signup mail")
        (mail,) = mail_rows(app)
        table = app.query_one(MailTable)
        assert table.life(mail).state == "current"

        clock.advance(605)  # the code's 10 minutes are over; the mail's (from its arrival) are not
        assert table.life(mail).state == "expired"
        await select_mail(app, pilot, mail.id)
        detail = app.query_one("#mail-detail", Static)
        await until(pilot, lambda: "State: expired" in str(detail.content), "the detail says so")


async def test_logging_out_does_not_leave_a_count_of_sessions_under_an_empty_list(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "wes")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "wes")
        me = app.query_one(MePane)
        # (the signup's verify logged in too)
        await until(pilot, lambda: me.sessions_table.row_count == 2, "the sessions listed")
        sessions_status = app.query_one("#sessions-status", FormStatus)
        assert "2 session(s)" in sessions_status.text

        await click(app, pilot, "#me-logout")
        await settle(app, pilot)
        assert me.sessions_table.row_count == 0
        assert "session(s)" not in sessions_status.text


async def test_the_trace_of_a_password_changed_notice_lists_the_reset_attempts(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    """The notice shares its ref with the reset link; its trace said "none made by this TUI"
    beside the confirm this TUI had just sent."""
    await make_user(accounts, devmail, "xena")
    async with tui() as (app, pilot):
        await reset_password(app, pilot, "xena@example.com")
        await until(
            pilot,
            lambda: any(m.flow == "password-changed" for m in mail_rows(app)),
            "the notice",
        )
        notice = next(m for m in mail_rows(app) if m.flow == "password-changed")
        await select_mail(app, pilot, notice.id)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TraceScreen), "the trace")
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        text = screen.text
        assert "none made by this TUI" not in text
        assert "POST /api/auth/password/reset/confirm/ → 204" in text


async def test_an_email_change_ends_with_the_login_that_began_it(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    """It outlived a logout: its strip kept counting, `u` still served it, and Resend would
    have sent the last user's address and password under the next user's login."""
    await make_user(accounts, devmail, "yuri")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "yuri")
        app.action_show_tab("profile")
        await pilot.pause()
        fill(app, profile_new_email="yuri2@example.com", profile_email_password=PASSWORD)
        await click(app, pilot, "#profile-email-send")
        await settle(app, pilot)
        assert [w.flow for w in app.waiting()] == ["email-change"]

        await show_tab(app, pilot, "me")
        await click(app, pilot, "#me-logout")
        await settle(app, pilot)
        assert app.waiting() == []
        assert not app.query_one("#profile-email-strip", WaitStrip).display
        assert app.query_one("#profile-email-resend", Button).disabled


async def test_a_password_change_stays_on_its_form_and_says_so(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    """The new tokens counted as a new login: the TUI jumped to Me, and the form's "Password
    changed; other logins are revoked" went unseen."""
    await make_user(accounts, devmail, "zack")
    async with tui(size=(80, 24)) as (app, pilot):
        await log_in(app, pilot, "zack")
        await show_tab(app, pilot, "password")
        fill(app, pw_current=PASSWORD, pw_new="a-whole-new-one-77")
        await click(app, pilot, "#pw-change")
        await settle(app, pilot)
        status = app.query_one("#password-change").query_one(FormStatus)
        assert status.has_class("-ok") and "Password changed" in status.text
        assert app.active_tab == "password"
        assert app.focused is not None and app.focused.id == "pw-change"
        me = app.query_one(MePane)
        # the other login (the signup's) is gone from the list
        await until(pilot, lambda: me.sessions_table.row_count == 1, "the sessions reloaded")


@pytest.mark.parametrize(
    ("typed", "keys", "expected"),
    [
        ("", ["a", "b", "c", "backspace", "d"], "abd"),
        ("old text", ["end", "ctrl+u", "n", "e", "w"], "new"),
        ("", ["a", "c", "left", "b"], "abc"),
    ],
)
async def test_editing_keys_in_a_burst_apply_in_the_order_typed(
    accounts: str, typed: str, keys: list[str], expected: str
) -> None:
    """A field's own keys (Backspace, Ctrl+U, arrows) were bindings run when the key reached
    the app, behind the letters typed after it: tmux send-keys or an auto-type turned
    "abc<BS>d" into "abc" and "<C-u>new" into an empty field."""
    app = AcctkitApp(url=accounts, mail_url="http://127.0.0.1:9")
    async with app.run_test(size=(80, 24)) as pilot:
        field = app.query_one("#signup-first-name", Field)
        field.value = typed
        field.input.focus()
        await pilot.pause()
        for key in keys:  # as the driver does: posted together, no waiting in between
            character = key if len(key) == 1 else None
            app.post_message(events.Key(key, character))
        await pilot.pause()
        await pilot.pause()
        assert field.value == expected
