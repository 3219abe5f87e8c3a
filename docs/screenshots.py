"""`make screenshots`: SVG screenshots of the TUI for the README, taken from the real thing:
the verify strip, the mailbox, a mail's trace and the HTTP log.

The accounts service and devmail run in this process on free ports (as in tests/tui), the TUI
runs headless under `App.run_test()` at 100x30, a person's steps are replayed with Pilot, and
Textual's own `save_screenshot` writes each SVG into docs/. Deterministic enough to commit:
the service's clock is frozen (countdowns read 10:00), only codes and ids change per run.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestServer
from textual.pilot import Pilot

from core.clock import FrozenClock
from core.settings import Settings
from devmail.api import create_app as create_devmail
from devmail.config import Config
from server.app import create_app
from tui.app import AcctkitApp
from tui.screens.http_log import ExchangeTable
from tui.screens.mailbox import MailboxPane
from tui.screens.trace import TraceScreen
from tui.widgets.form import Field
from tui.widgets.mail_table import MailTable
from tui.widgets.wait_strip import WaitStrip

SIZE = (100, 30)
PASSWORD = "rabbit-hole-2026"
# Workers that loop for the app's whole life (the mail stream, health polls, token refresh).
ENDLESS_GROUPS = frozenset({"mail-events", "health", "tokens"})
Shot = Callable[[AcctkitApp, Pilot[None]], Awaitable[None]]


async def until(pilot: Pilot[None], predicate: Callable[[], object]) -> None:
    for _ in range(500):
        if predicate():
            return
        await pilot.pause(0.02)
    raise RuntimeError("the TUI never got there")


async def idle(app: AcctkitApp, pilot: Pilot[None]) -> None:
    for _ in range(500):
        await pilot.pause(0.02)
        if all(w.is_finished or w.group in ENDLESS_GROUPS for w in app.workers):
            return


def sign_up(app: AcctkitApp, username: str) -> None:
    values = {
        "signup-first-name": username.title(),
        "signup-last-name": "Liddell",
        "signup-username": username,
        "signup-email": f"{username}@example.com",
        "signup-password": PASSWORD,
    }
    for field_id, value in values.items():
        app.query_one(f"#{field_id}", Field).value = value
    app.query_one("#signup-submit").press()  # type: ignore[attr-defined]


async def scenario(app: AcctkitApp, pilot: Pilot[None], clock: FrozenClock, out: Path) -> None:
    """Two signups, one resent twice, one wrong code: the mailbox then has something to say."""
    table = app.query_one(MailTable)
    sign_up(app, "alice")
    await idle(app, pilot)
    await until(pilot, lambda: len(table.mails) == 1)
    for expected in (2, 3):
        clock.advance(61)
        app.query_one("#signup-strip", WaitStrip).tick()  # enables Resend now, not in <= 1 s
        await pilot.pause()
        app.query_one("#signup-resend").press()  # type: ignore[attr-defined]
        await idle(app, pilot)
        await until(pilot, lambda n=expected: len(table.mails) == n)
    app.query_one("#signup-code-field", Field).value = "000000"
    app.query_one("#signup-verify").press()  # type: ignore[attr-defined]
    await idle(app, pilot)
    clock.advance(18)
    await pilot.pause(1.1)  # one tick of the strip
    app.save_screenshot("tui-verify-strip.svg", str(out))

    app.action_show_tab("mailbox")
    await idle(app, pilot)
    await until(pilot, lambda: app.query_one(MailboxPane).shown is not None)
    second = next(m for m in table.mails.values() if m.ref_seq == 2)
    table.focus()
    table.select(second.id)
    await until(pilot, lambda: getattr(app.query_one(MailboxPane).shown, "summary", None))
    await pilot.pause(0.3)
    app.save_screenshot("tui-mailbox.svg", str(out))

    # the first code's trace: the request that caused it, and every attempt against its signup
    first = next(m for m in table.mails.values() if m.ref_seq == 1)
    table.select(first.id)
    await pilot.pause(0.2)
    await pilot.press("t")
    await until(pilot, lambda: isinstance(app.screen, TraceScreen))
    await pilot.pause(0.3)
    app.save_screenshot("tui-trace.svg", str(out))
    await pilot.press("escape")
    await until(pilot, lambda: not isinstance(app.screen, TraceScreen))

    # the HTTP log on the refused verify: headers, bodies (secrets masked) and curl
    app.action_show_tab("log")
    await pilot.pause(0.2)
    log = app.query_one(ExchangeTable)
    refused = next(e for e in log.exchanges.values() if e.path == "/api/auth/signup/verify/")
    log.focus()
    log.move_cursor(row=log.get_row_index(str(refused.id)))
    await pilot.pause(0.3)
    app.save_screenshot("tui-http-log.svg", str(out))


async def main(out: Path) -> None:
    devmail_app = create_devmail(Config(smtp_port=0, http_port=0))
    mail_http = TestServer(devmail_app, host="127.0.0.1")
    await mail_http.start_server()
    from devmail.api import DEVMAIL_KEY

    smtp_port = devmail_app[DEVMAIL_KEY].smtp_port
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/acctkit.db",
            secret_key="screenshots-" + "x" * 40,
            data_dir=tmp,
            argon2_time_cost=1,
            argon2_memory_kib=8,
            argon2_parallelism=1,
            smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        )
        accounts_http = TestServer(create_app(settings, clock=clock), host="127.0.0.1")
        await accounts_http.start_server()
        try:
            app = AcctkitApp(
                url=str(accounts_http.make_url("")).rstrip("/"),
                mail_url=str(mail_http.make_url("")).rstrip("/"),
                now=clock.now,
            )
            async with app.run_test(size=SIZE) as pilot:
                await until(pilot, lambda: app.query_one(MailboxPane).live)
                await scenario(app, pilot, clock, out)
        finally:
            await accounts_http.close()
            await mail_http.close()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))
    for svg in sorted(target.glob("tui-*.svg")):
        print(svg)
