"""A request traced to its mail and back, against the real service and devmail: the mail's
RequestID is the X-Request-ID of the request that caused it; on a mail, the trace also lists
every attempt this TUI made against its ref, with the service's answers."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.tui.conftest import (
    Devmail,
    click,
    fill,
    fill_signup,
    mail_rows,
    select_mail,
    settle,
    until,
)
from tui.screens.http_log import ExchangeTable
from tui.screens.trace import TraceScreen
from tui.widgets.mail_table import MailTable


async def open_exchange(app: Any, pilot: Any, method: str, path: str) -> Any:
    app.action_show_tab("log")
    await pilot.pause()
    table = app.query_one(ExchangeTable)
    exchange = next(e for e in table.exchanges.values() if (e.method, e.path) == (method, path))
    table.focus()
    table.move_cursor(row=table.get_row_index(str(exchange.id)))
    await pilot.pause()
    return exchange


@pytest.mark.parametrize("accounts_settings", [{"resend_cooldown": 0}])
async def test_signup_request_to_its_mail_and_the_mail_back_to_every_attempt(
    tui: Any, devmail: Devmail
) -> None:
    async with tui() as (app, pilot):
        fill_signup(app, "carol")
        await click(app, pilot, "#signup-submit")
        await settle(app, pilot)
        await until(pilot, lambda: len(mail_rows(app)) == 1, "mail #1")
        first = mail_rows(app)[0]
        await click(app, pilot, "#signup-resend")
        await settle(app, pilot)
        await until(pilot, lambda: len(mail_rows(app)) == 2, "mail #2")
        second = next(m for m in mail_rows(app) if m.ref_seq == 2)

        def verifies(status: int) -> int:
            return sum(
                1
                for e in app.http_log.entries
                if (e.method, e.path, e.status) == ("POST", "/api/auth/signup/verify/", status)
            )

        fill(app, signup_code_field=first.codes[0])  # the superseded code
        await click(app, pilot, "#signup-verify")
        await until(pilot, lambda: verifies(409) == 1, "the superseded code answered 409")
        await settle(app, pilot)
        fill(app, signup_code_field=second.codes[0])
        await click(app, pilot, "#signup-verify")
        await until(pilot, lambda: app.accounts.logged_in, "logged in by the current code")
        await settle(app, pilot)
        assert verifies(201) == 1

        # the request -> its mail
        start = await open_exchange(app, pilot, "POST", "/api/auth/signup/")
        assert first.request_id == start.request_id  # the service stamped the mail with it
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, TraceScreen), "the trace")
        text = app.screen.text
        assert f"POST /api/auth/signup/ → 202  request id {start.request_id}" in text
        assert f"signup #1 {first.codes[0]} to carol@example.com" in text
        assert second.id not in text  # the resend caused that one
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, TraceScreen), "closed")

        resend = await open_exchange(app, pilot, "POST", "/api/auth/signup/resend/")
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, TraceScreen), "the trace")
        assert second.id in app.screen.text and first.id not in app.screen.text
        await pilot.press("escape")
        await pilot.pause()

        # the mail -> the request that caused it, and every attempt against its ref
        await select_mail(app, pilot, first.id)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TraceScreen), "the mail's trace")
        lines = app.screen.text.splitlines()
        caused = lines[lines.index("Caused by") + 1]
        assert f"POST /api/auth/signup/ → 202  request id {start.request_id}" in caused
        tried = lines[lines.index(f"Attempts against ref {first.ref}") + 1 :]
        assert [line.split(" ", 2)[2] for line in tried[0::2]] == [
            f"POST /api/auth/signup/resend/ → 202  request id {resend.request_id}",
            "POST /api/auth/signup/verify/ → 409  request id " + tried[2].rsplit(" ", 1)[1],
            "POST /api/auth/signup/verify/ → 201  request id " + tried[4].rsplit(" ", 1)[1],
        ]
        assert tried[3].strip().startswith(f"code {first.codes[0]}: code_superseded")
        assert tried[5].strip() == f"code {second.codes[0]}: accepted (201)"
        assert f"signup #2 {second.codes[0]}" in app.screen.text  # the ref's other mail


async def test_parts_mismatch_shows_in_the_row_the_detail_and_the_trace(
    tui: Any, devmail: Devmail
) -> None:
    async with tui() as (app, pilot):
        send = {
            "From": {"Email": "no-reply@localhost"},
            "To": [{"Email": "dave@example.com"}],
            "Subject": "Your code",
            "Text": "Your code is 123456.",
            "HTML": "<p>Your code is <b>654321</b>.</p>",
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(devmail.url + "/api/v1/send", json=send) as response,
        ):
            assert response.status == 200, await response.text()
        await until(pilot, lambda: len(mail_rows(app)) == 1, "the mail")
        (mail,) = mail_rows(app)
        assert mail.parts_mismatch and mail.request_id is None
        table = app.query_one(MailTable)
        assert table.get_cell(mail.id, "code").plain.endswith("≠")
        await select_mail(app, pilot, mail.id)
        await until(
            pilot, lambda: "PARTS MISMATCH" in str(app.query_one("#mail-detail").content), "detail"
        )
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TraceScreen), "the trace")
        text = app.screen.text
        assert "PARTS MISMATCH" in text and "different codes or links" in text
        assert "the mail names no request" in text
