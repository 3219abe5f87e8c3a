"""The entry point, the command palette entries, and a mailbox whose devmail is not running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Static

from tests.tui.conftest import settle, until
from tui.__main__ import main
from tui.app import TABS, AcctkitApp
from tui.screens.http_log import ExchangeTable, HttpLogPane
from tui.screens.mailbox import MailboxPane
from tui.widgets.form import Field

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["first-name", "last-name", "username"]


def test_main_help_names_both_urls(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--url" in out and "--mail-url" in out


def test_python_dash_m_tui_runs_main() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tui", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "--mail-url" in done.stdout


async def test_each_tab_has_a_command_palette_entry_and_a_key(accounts: str) -> None:
    app = AcctkitApp(url=accounts, mail_url="http://127.0.0.1:9")
    async with app.run_test(size=(120, 48)) as pilot:
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for tab, title, key, _ in TABS:
            assert title in titles
            await pilot.press(key)
            assert app.active_tab == tab


async def test_mailbox_says_devmail_is_unreachable_and_the_log_shows_why(accounts: str) -> None:
    app = AcctkitApp(url=accounts, mail_url="http://127.0.0.1:9")  # discard port: nobody there
    async with app.run_test(size=(120, 48)) as pilot:
        label = app.query_one("#mail-connection", Static)
        await until(pilot, lambda: "offline" in str(label.content), "the offline notice")
        assert not app.query_one(MailboxPane).live
        table = app.query_one(ExchangeTable)
        await settle(app, pilot)
        failed = [e for e in table.exchanges.values() if e.path == "/api/events"]
        assert failed and failed[0].status is None and failed[0].error
        assert failed[0].background and str(failed[0].id) not in table.rows  # a mailbox read
        app.query_one(HttpLogPane).action_toggle_background()
        assert table.get_cell(str(failed[0].id), "status").plain == "ERR"


async def test_keys_after_a_tab_in_one_burst_land_in_the_next_field(accounts: str) -> None:
    """The driver posts every key of a burst at once (a password manager's auto-type, tmux
    send-keys). Tab was a plain binding, run only when the field reached it in its queue,
    behind the keys after it: "Ada<Tab>Lovelace" filled the first name with AdaLovelace."""
    app = AcctkitApp(url=accounts, mail_url="http://127.0.0.1:9")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        burst = ["A", "d", "a", "tab", "L", "o", "v", "e", "tab", "a", "d", "a", "shift+tab"]
        for key in burst:  # as the driver does: posted together, no waiting in between
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await pilot.pause()
        values = [app.query_one(f"#signup-{name}", Field).value for name in NAMES]
        assert values == ["Ada", "Love", "ada"]
        assert app.focused is app.query_one("#signup-last-name", Field).input
