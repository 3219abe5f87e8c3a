"""Flows whose routes are built on other branches (reset, profile): each test runs once the route
is in the service's route table, and is skipped, saying why, until then."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.tui.conftest import (
    PASSWORD,
    Devmail,
    click,
    fill,
    mail_rows,
    make_user,
    select_mail,
    settle,
    until,
)
from tests.tui.test_session import log_in
from tui.screens.session import MePane
from tui.widgets.form import Field, FormStatus

NEW_PASSWORD = "looking-glass-2027"


async def test_forgot_password_link_from_the_mailbox_sets_a_new_password(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        app.action_show_tab("password")
        await pilot.pause()
        fill(app, reset_email="alice@example.com")
        await click(app, pilot, "#reset-request")
        await settle(app, pilot)
        assert app.query_one("#password-forgot").query_one(FormStatus).has_class("-ok")

        await until(
            pilot,
            lambda: any(m.flow == "password-reset" for m in mail_rows(app)),
            "the reset mail in the mailbox",
        )
        mail = next(m for m in mail_rows(app) if m.flow == "password-reset")
        assert mail.links
        await select_mail(app, pilot, mail.id)
        await pilot.press("u")
        await until(pilot, lambda: app.active_tab == "password", "the password tab")
        assert app.query_one("#reset-uid", Field).value in mail.links

        await click(app, pilot, "#reset-check")
        await settle(app, pilot)
        status = app.query_one("#password-reset").query_one(FormStatus)
        assert "valid until" in status.text, status.text

        fill(app, reset_new=NEW_PASSWORD, reset_again=NEW_PASSWORD + "x")
        await click(app, pilot, "#reset-confirm")
        await settle(app, pilot)
        assert "password_mismatch" in status.text, status.text

        fill(app, reset_new=NEW_PASSWORD, reset_again=NEW_PASSWORD)
        await click(app, pilot, "#reset-confirm")
        await settle(app, pilot)
        assert status.has_class("-ok"), status.text

        await log_in(app, pilot, "alice", PASSWORD)
        assert "invalid_credentials" in app.query_one("#login-status", FormStatus).text
        await log_in(app, pilot, "alice", NEW_PASSWORD)
        assert app.query_one(MePane).user is not None


async def test_profile_names_are_saved(tui: Any, accounts: str, devmail: Devmail) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "alice")
        app.action_show_tab("profile")
        await pilot.pause()
        fill(app, profile_first_name="Alicia", profile_username="alicia")
        await click(app, pilot, "#profile-save")
        await settle(app, pilot)
        user = app.query_one(MePane).user
        assert user is not None and (user.first_name, user.username) == ("Alicia", "alicia")


async def test_wrong_current_password_is_reported(
    tui: Any, accounts: str, devmail: Devmail
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "alice")
        app.action_show_tab("password")
        await pilot.pause()
        fill(app, pw_current="not-it", pw_new=NEW_PASSWORD)
        await click(app, pilot, "#pw-change")
        await settle(app, pilot)
        status = app.query_one("#password-change").query_one(FormStatus)
        assert "[403 wrong_password]" in status.text


async def test_email_change_code_from_the_mailbox_and_an_avatar_upload(
    tui: Any, accounts: str, devmail: Devmail, tmp_path: Path
) -> None:
    from PIL import Image

    picture = tmp_path / "me.png"
    Image.new("RGB", (40, 30), "purple").save(picture)
    await make_user(accounts, devmail, "alice")
    async with tui() as (app, pilot):
        await log_in(app, pilot, "alice")
        app.action_show_tab("profile")
        await pilot.pause()
        fill(app, profile_avatar_path=str(picture))
        await click(app, pilot, "#profile-avatar-upload")
        await settle(app, pilot)
        user = app.query_one(MePane).user
        assert user is not None and user.avatar_url, (
            app.query_one("#profile-avatar").query_one(FormStatus).text
        )

        fill(app, profile_new_email="alice2@example.com", profile_email_password=PASSWORD)
        await click(app, pilot, "#profile-email-send")
        await settle(app, pilot)
        sent = app.query_one("#profile-email").query_one(FormStatus)
        assert sent.has_class("-ok"), sent.text
        await until(
            pilot,
            lambda: any(m.flow == "email-change" for m in mail_rows(app)),
            "the email-change mail",
        )
        mail = next(m for m in mail_rows(app) if m.flow == "email-change")
        assert mail.to_text == "alice2@example.com"
        await select_mail(app, pilot, mail.id)
        await pilot.press("u")
        await pilot.pause()
        assert app.active_tab == "profile"
        assert app.query_one("#profile-email-code-field", Field).value == mail.codes[0]
        await click(app, pilot, "#profile-email-verify")
        await settle(app, pilot)
        user = app.query_one(MePane).user
        assert user is not None and user.email == "alice2@example.com"
