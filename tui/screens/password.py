"""Passwords: change it while logged in, or the forgot path (request a link, check it, confirm),
with the link's remaining life ticking from `GET /api/auth/password/reset/{uid}/`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static, TabbedContent, TabPane

from tui.client import ApiProblem, MailSummary, ResetCheck, TokenPair, uid_from
from tui.screens.flow import FlowPane, SessionChanged, Waiting
from tui.widgets.form import Field, FormStatus
from tui.widgets.wait_strip import WaitStrip

DEAD_LINK = {"reset_expired": "expired", "reset_used": "used", "reset_invalid": "invalid"}


class PasswordPane(FlowPane):
    class Done(Message):
        def __init__(self, form: str, text: str, result: Any) -> None:
            super().__init__()
            self.form = form
            self.text = text
            self.result = result

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._link_ref: tuple[str | None, str] | None = None  # (mail ref, link) being used

    def compose(self) -> ComposeResult:
        with TabbedContent(id="password-tabs", classes="subtabs"):
            with (
                TabPane("Change", id="password-tab-change"),
                Vertical(id="password-change", classes="form"),
            ):
                yield Static(
                    "Change password (logged in; every other login is revoked)", classes="section"
                )
                yield Field("Current password", "current_password", password=True, id="pw-current")
                yield Field("New password", "new_password", password=True, id="pw-new")
                with Horizontal(classes="buttons"):
                    yield Button("Change password", variant="primary", id="pw-change", compact=True)
                yield FormStatus()
            with TabPane("Forgot / reset", id="password-tab-reset"):
                with Vertical(id="password-forgot", classes="form"):
                    yield Static("Forgot password: a reset link is mailed", classes="section")
                    yield Field("Email", "email", id="reset-email")
                    with Horizontal(classes="buttons"):
                        yield Button(
                            "Send reset link", variant="primary", id="reset-request", compact=True
                        )
                    yield FormStatus()
                with Vertical(id="password-reset", classes="form"):
                    yield WaitStrip(kind="link", id="reset-strip")
                    yield Field(
                        "Reset link or UID",
                        "uid",
                        placeholder="paste the mailed link",
                        id="reset-uid",
                    )
                    yield Field("New password", "new_password", password=True, id="reset-new")
                    yield Field(
                        "New password again", "re_new_password", password=True, id="reset-again"
                    )
                    with Horizontal(classes="buttons"):
                        yield Button(
                            "Set new password", variant="primary", id="reset-confirm", compact=True
                        )
                        yield Button("Check link", id="reset-check", compact=True)
                    yield FormStatus()

    @property
    def strip(self) -> WaitStrip:
        return self.query_one("#reset-strip", WaitStrip)

    def use_link(self, mail: MailSummary) -> None:
        """Fill the reset field from a password-reset mail's link, then check it (a GET never
        uses it up) so the strip counts down the link's real remaining life."""
        link = next((u for u in mail.links if "reset" in u), mail.links[0] if mail.links else "")
        self.query_one("#reset-uid", Field).value = link
        self._link_ref = (mail.ref, link)
        self.status("password-reset").info(f"Link taken from mail {mail.id}; checking it…")
        self.run("password-reset", "", lambda a: a.reset_check(uid_from(link)))

    @on(Button.Pressed, "#pw-change")
    def change(self) -> None:
        v = self.values("password-change")
        self.begin("password-change", "Changing the password…")
        self.run(
            "password-change",
            "Password changed; other logins are revoked, this one has new tokens.",
            lambda a: a.change_password(v["current_password"], v["new_password"]),
        )

    @on(Button.Pressed, "#reset-request")
    def request_reset(self) -> None:
        email = self.query_one("#reset-email", Field).value
        self.begin("password-forgot", "Requesting a reset link…")
        self.waiting = Waiting("password-reset", to=email.strip() or None)
        self.run("password-forgot", "", lambda a: a.reset_request(email))

    @on(Button.Pressed, "#reset-check")
    def check(self) -> None:
        uid = uid_from(self.query_one("#reset-uid", Field).value)
        self.begin("password-reset", "Checking the link (a GET never uses it up)…")
        self.run("password-reset", "", lambda a: a.reset_check(uid))

    @on(Button.Pressed, "#reset-confirm")
    def confirm(self) -> None:
        v = self.values("password-reset")
        uid = uid_from(v["uid"])
        if self._link_ref is None or self._link_ref[1] != v["uid"]:
            self._link_ref = (None, v["uid"])
        self.begin("password-reset", "Setting the new password…")
        self.run(
            "password-reset",
            "Password set. Every login was revoked: log in with the new password.",
            lambda a: a.reset_confirm(uid, v["new_password"], v["re_new_password"]),
        )

    @work(exclusive=True, group="password", exit_on_error=False)
    async def run(self, form: str, text: str, call: Callable[[Any], Awaitable[Any]]) -> None:
        try:
            result = await call(self.acctkit.accounts)
        except ApiProblem as problem:
            self.post_message(self.Failed(form, problem))
            return
        self.post_message(self.Done(form, text, result))

    def on_password_pane_done(self, message: Done) -> None:
        message.stop()
        result = message.result
        text = message.text
        if isinstance(result, ResetCheck):
            until = result.expires_at.strftime("%H:%M:%S UTC") if result.expires_at else "?"
            text = f"The link is valid until {until}." if result.valid else "The link is not valid."
            if result.valid:
                self.strip.wait(expires_at=result.expires_at)
        elif message.form == "password-reset":
            self._reset_done()
        elif isinstance(result, str):
            text = result or "Reset requested."
        self.status(message.form).ok(text)
        for field in self.fields(message.form):
            if field.input.password:
                field.value = ""
        if isinstance(result, TokenPair):  # a password change: this login, new tokens
            self.post_message(SessionChanged(show_me=False))

    def _reset_done(self) -> None:
        self.waiting = None
        self.strip.stop("used: the password is set")
        if self._link_ref is not None:
            self.acctkit.mark_used(*self._link_ref)
        # The reset revoked every login of its user: if that is ours, show it ended now.
        self.acctkit.recheck_login()

    def failed(self, form: str, problem: ApiProblem) -> None:
        dead = DEAD_LINK.get(problem.code)
        if form == "password-reset" and dead:
            self.strip.stop(f"{dead} [{problem.code}]")
            self.strip.set_class(True, "-dead")
