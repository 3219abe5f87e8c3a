"""Keyboard and size (every primary action on screen at 80x24, Enter submits only its own form,
`u` lands on the field it filled, every action in the palette), and the live strips of the
email change and of a reset link."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from textual.widgets import Button, TabbedContent
from textual.widgets._footer import FooterKey

from core.clock import FrozenClock
from tests.tui.conftest import (
    PASSWORD,
    Devmail,
    click,
    fill,
    mail_rows,
    make_user,
    select_mail,
    settle,
    show_tab,
    until,
)
from tests.tui.test_session import log_in
from tui.app import TABS
from tui.screens.session import MePane
from tui.widgets.form import Field, FormStatus
from tui.widgets.mail_table import MailTable
from tui.widgets.wait_strip import WaitStrip


def visible_without_scrolling(app: Any, widget: Any) -> bool:
    """On screen now, inside its pane, with no scroll offset anywhere above it."""
    if not widget.region.area or not app.screen.region.contains_region(widget.region):
        return False
    return all(getattr(node, "scroll_y", 0) == 0 for node in widget.ancestors)


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_every_primary_action_is_on_screen_and_the_footer_fits(
    tui: Any, size: tuple[int, int]
) -> None:
    checked: set[str] = set()
    async with tui(size=size) as (app, pilot):
        for tab, *_ in TABS:
            app.action_show_tab(tab)
            await pilot.pause()
            pane = app.query_one("#tabs", TabbedContent).get_pane(tab)
            subtabs = [t for t in pane.query(TabbedContent)]
            views: list[tuple[Any, str | None]] = [(None, None)]
            if subtabs:
                views = [(subtabs[0], p.id) for p in subtabs[0].query("TabPane")]
            for holder, sub in views:
                if holder is not None:
                    app.set_focus(None)
                    holder.active = sub
                    await pilot.pause()
                for button in pane.query("Button.-primary").results(Button):
                    if not button.is_on_screen and not _shown(button):
                        continue  # on another sub-tab or step
                    assert visible_without_scrolling(app, button), (tab, sub, button.id)
                    checked.add(str(button.id))
        assert {
            "signup-submit",
            "login-submit",
            "me-refresh",
            "profile-save",
            "profile-avatar-upload",
            "profile-email-send",
            "profile-email-verify",
            "pw-change",
            "reset-request",
            "reset-confirm",
            "mail-use",
        } <= checked
        # the signup's second step too
        app.action_show_tab("signup")
        app.query_one("#signup-steps").current = "signup-code"
        await pilot.pause()
        assert visible_without_scrolling(app, app.query_one("#signup-verify"))
        # the footer: every entry whole and inside the screen ("^pp alette" was a squeeze)
        await until(pilot, lambda: app.screen.query(FooterKey), "the footer's keys")
        keys = list(app.screen.query(FooterKey))
        for key in keys:
            assert key.region.right <= size[0]
            assert key.region.width >= len(key.key_display) + len(key.description)


def _shown(widget: Any) -> bool:
    return all(node.display for node in widget.ancestors_with_self if hasattr(node, "display"))


async def test_bindings_and_palette_list_every_action(tui: Any) -> None:
    async with tui() as (app, pilot):
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for title, button_id in (
            ("Sign up: Sign up", "signup-submit"),
            ("Sign up: Resend", "signup-resend"),
            ("Profile: Choose file…", "profile-avatar-pick"),
            ("Profile: Verify email", "profile-email-verify"),
            ("Password: Check link", "reset-check"),
            ("Mailbox: Use code", "mail-use"),
        ):
            assert title in titles and app.query_one(f"#{button_id}")
        buttons = [b for b in app.query(Button) if b.id and not b.id.startswith("--")]
        assert len([t for t in titles if ": " in t]) >= len(buttons)
        keys = {b.key for b in app.BINDINGS if hasattr(b, "key")}
        assert {key for _, _, key, _ in TABS} <= keys

        # each sub-tab is a command too, landing in its first field
        command = next(
            c for c in app.get_system_commands(app.screen) if c.title == "Password / Forgot / reset"
        )
        command.callback()
        await until(
            pilot, lambda: app.focused is app.query_one("#reset-email", Field).input, "the field"
        )

        # a palette command presses the button in its tab
        command = next(
            c for c in app.get_system_commands(app.screen) if c.title == "Profile: Choose file…"
        )
        command.callback()
        await pilot.pause()
        await until(pilot, lambda: type(app.screen).__name__ == "FileOpen", "the file dialog")


async def test_u_on_an_email_change_mail_then_enter_verifies_the_email_not_the_names(
    tui: Any, accounts: str, devmail: Devmail, clock: FrozenClock
) -> None:
    """The bug: after `u`, Enter sent PATCH /api/me/ with the first name."""
    await make_user(accounts, devmail, "alice")
    async with tui(size=(80, 24)) as (app, pilot):
        await log_in(app, pilot, "alice")
        assert app.query_one("#profile-first-name", Field).value == "Alice"  # prefilled
        app.action_show_tab("profile")
        await pilot.pause()
        fill(app, profile_new_email="alice2@example.com", profile_email_password=PASSWORD)
        await click(app, pilot, "#profile-email-send")
        await settle(app, pilot)
        strip = app.query_one("#profile-email-strip", WaitStrip)
        assert str(strip.content) == "code #1 · 10:00 left · resend in 1:00"
        assert app.query_one("#profile-email-resend", Button).disabled

        # a wrong code counts down the attempts
        fill(app, profile_email_code_field="000000")
        await click(app, pilot, "#profile-email-verify")
        await settle(app, pilot)
        assert "attempts left" in str(strip.content)

        # the resend, once allowed, is a new code #2
        clock.advance(61)
        strip.tick()
        await pilot.pause()
        assert not app.query_one("#profile-email-resend", Button).disabled
        await click(app, pilot, "#profile-email-resend")
        await settle(app, pilot)
        assert str(strip.content).startswith("code #2 · 10:00 left")
        await until(pilot, lambda: len(mail_rows(app)) >= 3, "the second email-change mail")
        newest = next(m for m in mail_rows(app) if m.flow == "email-change")
        assert newest.ref_seq == 2

        await select_mail(app, pilot, newest.id)
        await pilot.press("u")
        await pilot.pause()
        await pilot.pause()
        code_field = app.query_one("#profile-email-code-field", Field)
        assert app.focused is code_field.input and code_field.value == newest.codes[0]

        sent = len(app.http_log.entries)
        await pilot.press("enter")
        await settle(app, pilot)
        after = [(e.method, e.path) for e in list(app.http_log.entries)[sent:]]
        assert ("PATCH", "/api/me/") not in after
        assert ("POST", "/api/me/email/verify/") in after
        user = app.query_one(MePane).user
        assert user is not None and user.email == "alice2@example.com"
        assert str(strip.content) == "code #2 · verified"
        table = app.query_one(MailTable)
        assert table.get_cell(newest.id, "state").plain == "used"


async def test_a_reset_link_counts_down_from_its_check_and_is_used_after_confirm(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui(size=(80, 24)) as (app, pilot):
        app.action_show_tab("password")
        await pilot.pause()
        fill(app, reset_email="alice@example.com")
        await click(app, pilot, "#reset-request")
        await settle(app, pilot)
        await until(
            pilot, lambda: any(m.flow == "password-reset" for m in mail_rows(app)), "the link"
        )
        await show_tab(app, pilot, "mailbox")
        await pilot.press("u")  # nothing selected by hand: the waiting reset is served
        await settle(app, pilot)
        mail = next(m for m in mail_rows(app) if m.flow == "password-reset")
        assert app.active_tab == "password"
        uid_field = app.query_one("#reset-uid", Field)
        assert uid_field.value in mail.links and app.focused is uid_field.input
        strip = app.query_one("#reset-strip", WaitStrip)
        assert str(strip.content) == "reset link · 5:00 left"  # from GET .../reset/{uid}/
        assert any(
            e.method == "GET" and e.path.startswith("/api/auth/password/reset/")
            for e in app.http_log.entries
        )

        fill(app, reset_new="looking-glass-2027", reset_again="looking-glass-2027")
        await click(app, pilot, "#reset-confirm")
        await settle(app, pilot)
        assert app.query_one("#password-reset").query_one(FormStatus).has_class("-ok")
        assert str(strip.content) == "reset link · used: the password is set"
        assert app.query_one(MailTable).get_cell(mail.id, "state").plain == "used"
        # the mailbox's detail lists the link (once the "password changed" notice is in: the
        # cursor would follow it if it arrived while the reset mail was the newest)
        await until(
            pilot, lambda: any(m.flow == "password-changed" for m in mail_rows(app)), "notice"
        )
        await select_mail(app, pilot, mail.id)
        await until(
            pilot, lambda: "[1] http" in str(app.query_one("#mail-detail").content), "links"
        )


async def test_an_email_change_begun_before_a_restart_resumes_from_its_mail(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "bob")
    async with aiohttp.ClientSession(accounts) as http:
        login = {"username": "bob", "password": PASSWORD}
        async with http.post("/api/token/", json=login) as response:
            access = (await response.json())["access"]
        change = {"email": "bob2@example.com", "password": PASSWORD}
        headers = {"Authorization": f"Bearer {access}"}
        async with http.post("/api/me/email/", json=change, headers=headers) as response:
            assert response.status == 202, await response.text()
    async with tui(size=(80, 24)) as (app, pilot):
        await log_in(app, pilot, "bob")
        await until(
            pilot, lambda: any(m.flow == "email-change" for m in mail_rows(app)), "the mail"
        )
        mail = next(m for m in mail_rows(app) if m.flow == "email-change")
        await select_mail(app, pilot, mail.id)
        await pilot.press("u")
        await pilot.pause()
        await pilot.pause()
        field = app.query_one("#profile-email-code-field", Field)
        assert field.value == mail.codes[0] and app.focused is field.input
        strip = str(app.query_one("#profile-email-strip", WaitStrip).content)
        assert strip.startswith("code #1 · ") and " left" in strip
        await pilot.press("enter")
        await settle(app, pilot)
        user = app.query_one(MePane).user
        assert user is not None and user.email == "bob2@example.com"
