"""Health at a glance against real services: the header and one banner say which service is
down, forms say so in one short sentence, and recovery shows without a restart."""

from __future__ import annotations

import time

import pytest
from aiohttp.test_utils import TestServer

from devmail.api import create_app as create_devmail
from devmail.config import Config
from tests.tui.conftest import click, fill, settle, until
from tui.app import AcctkitApp
from tui.screens import mailbox as mailbox_module
from tui.screens.mailbox import MailboxPane
from tui.widgets.form import FormStatus
from tui.widgets.health import HealthBanner


async def start_devmail(port: int = 0) -> TestServer:
    server = TestServer(
        create_devmail(Config(smtp_port=0, http_port=0)), host="127.0.0.1", port=port
    )
    await server.start_server()
    return server


def fast(app: AcctkitApp) -> AcctkitApp:
    app.HEALTH_INTERVAL = 0.2
    app.HEALTH_RETRY = 0.1
    return app


async def test_devmail_going_down_and_back_up_shows_in_the_header_and_a_banner(
    accounts: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stream left to its own backoff would wait a full minute before it reconnects, so the
    # bound below (generous for a loaded machine) still tells the health-driven reconnect apart.
    monkeypatch.setattr(mailbox_module, "RECONNECT_FIRST_SECONDS", 60.0)
    monkeypatch.setattr(mailbox_module, "RECONNECT_MAX_SECONDS", 60.0)
    mail = await start_devmail()
    port = mail.port
    assert port is not None
    app = fast(AcctkitApp(url=accounts, mail_url=f"http://127.0.0.1:{port}"))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            banner = app.query_one(HealthBanner)
            await until(pilot, lambda: app.health["devmail"].up is True, "devmail up")
            assert app.sub_title == "accounts ✓ up · devmail ✓ up"
            assert not banner.display

            await mail.close()
            await until(pilot, lambda: app.health["devmail"].up is False, "devmail seen down")
            await pilot.pause()
            assert app.sub_title == "accounts ✓ up · devmail ✗ DOWN"
            assert banner.display and banner.region.height >= 1
            text = str(banner.content)
            assert text.startswith(f"devmail at http://127.0.0.1:{port} is down since")
            assert "(cannot connect: Connection refused)" in text
            assert "\n" not in text  # one line per service that is down, and only those
            assert app.health["accounts"].up is True

            mailbox = app.query_one(MailboxPane)
            await until(pilot, lambda: not mailbox.live, "the mailbox sees its stream end")

            mail = await start_devmail(port)  # the same port, as a restarted devmail would
            await until(pilot, lambda: app.health["devmail"].up is True, "devmail back")
            back = time.monotonic()
            await pilot.pause()
            assert app.sub_title == "accounts ✓ up · devmail ✓ up"
            assert not banner.display
            # Health recovery reconnects the mailbox at once, not after its backoff.
            await until(pilot, lambda: mailbox.live, "the mailbox live again")
            assert time.monotonic() - back < 15.0
    finally:
        await mail.close()


async def test_a_form_says_one_short_sentence_when_the_service_is_down() -> None:
    app = fast(AcctkitApp(url="http://127.0.0.1:9", mail_url="http://127.0.0.1:9"))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.health["accounts"].up is False, "accounts seen down")
        assert "accounts at http://127.0.0.1:9 is down since" in str(
            app.query_one(HealthBanner).content
        )
        app.action_show_tab("login")
        await pilot.pause()
        fill(app, login_username="alice", login_password="whatever-it-is")
        await click(app, pilot, "#login-submit")
        await settle(app, pilot)
        status = app.query_one("#login-status", FormStatus).text
        assert status == (
            "Unreachable: accounts at http://127.0.0.1:9 did not answer; see the banner at the top."
        )
        # The why (the connection error) is in the log entry, not on the form.
        failed = next(e for e in app.http_log.entries if e.path == "/api/token/")
        assert failed.status is None and "Connect" in failed.error


async def test_health_polls_stay_out_of_the_log(accounts: str) -> None:
    mail = await start_devmail()
    app = fast(AcctkitApp(url=accounts, mail_url=str(mail.make_url("")).rstrip("/")))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.health["devmail"].up is True, "devmail up")
            await pilot.pause(0.5)  # several polls
            assert not [e for e in app.http_log.entries if e.path.endswith("z")]
    finally:
        await mail.close()
