"""Profile: names prefilled from /api/me/, the avatar chosen in a file dialog and drawn in the
terminal, and a bad file reported next to its field (once a raw FileNotFoundError toast)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from tests.tui.conftest import Devmail, click, make_user, settle, until
from tests.tui.test_session import log_in
from tui.widgets.avatar import AvatarView
from tui.widgets.form import Field, FormStatus


async def test_avatar_picked_in_a_dialog_is_uploaded_and_drawn(
    tui: Any, accounts: str, devmail: Devmail, tmp_path: Path
) -> None:
    picture = tmp_path / "me.png"
    Image.new("RGB", (40, 30), "purple").save(picture)
    await make_user(accounts, devmail, "alice")
    async with tui(size=(100, 30)) as (app, pilot):
        await log_in(app, pilot, "alice")
        for field_id, value in (
            ("profile-first-name", "Alice"),
            ("profile-last-name", "Tester"),
            ("profile-username", "alice"),
        ):
            assert app.query_one(f"#{field_id}", Field).value == value
        view = app.query_one(AvatarView)
        assert view.shown is None

        app.action_show_tab("profile")
        await pilot.pause()
        await click(app, pilot, "#profile-avatar-pick")
        await until(pilot, lambda: type(app.screen).__name__ == "FileOpen", "the file dialog")
        app.screen.dismiss(picture)  # what the dialog returns when the person picks the file
        await until(
            pilot,
            lambda: app.query_one("#profile-avatar-path", Field).value == str(picture),
            "the chosen path in the field",
        )
        path_input = app.query_one("#profile-avatar-path", Field).input
        await until(pilot, lambda: app.focused is path_input, "focus on the path field")
        await pilot.press("enter")  # Enter in the path field uploads
        await settle(app, pilot)
        await until(pilot, lambda: view.shown == (40, 30), "the avatar drawn")
        caption = str(app.query_one("#avatar-caption").content)
        assert caption.startswith("Avatar (40x30")
        assert any(e.path.startswith("/api/users/") for e in app.http_log.entries)

        await click(app, pilot, "#profile-avatar-delete")
        await settle(app, pilot)
        assert view.shown is None


async def test_a_missing_file_is_an_error_next_to_the_field_not_a_toast(
    tui: Any, accounts: str, devmail: Devmail, tmp_path: Path
) -> None:
    await make_user(accounts, devmail, "alice")
    async with tui(size=(80, 24)) as (app, pilot):
        await log_in(app, pilot, "alice")
        app.action_show_tab("profile")
        await pilot.pause()
        missing = tmp_path / "nope.png"
        app.query_one("#profile-avatar-path", Field).value = str(missing)
        sent = len(app.http_log.entries)
        await click(app, pilot, "#profile-avatar-upload")
        await settle(app, pilot)
        field = app.query_one("#profile-avatar-path", Field)
        assert field.error == f"No such file: {missing}" and field.has_class("-invalid")
        status = app.query_one("#profile-avatar").query_one(FormStatus)
        assert status.has_class("-error") and "Unreachable" not in status.text
        assert not app._notifications  # no toast
        assert len(app.http_log.entries) == sent  # nothing was sent
