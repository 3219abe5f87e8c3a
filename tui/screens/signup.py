"""Sign up: the form, then the code step that says which signup and which code number it expects,
so a mail with an older code (or for another signup) is recognised at a glance."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Button, ContentSwitcher, Static

from tui import api
from tui.api import ApiProblem, CodeSent, MailSummary, SignupStarted
from tui.screens.flow import FlowPane, SessionChanged
from tui.widgets.form import Field, FormStatus


def clock_time(moment: object) -> str:
    return moment.strftime("%H:%M:%S UTC") if hasattr(moment, "strftime") else "?"


class SignupPane(FlowPane):
    """Start a signup, then verify or resend its code."""

    resend_wait: reactive[int] = reactive(0)

    class Started(Message):
        def __init__(self, started: SignupStarted) -> None:
            super().__init__()
            self.started = started

    class Resent(Message):
        def __init__(self, sent: CodeSent) -> None:
            super().__init__()
            self.sent = sent

    class Verified(Message):
        def __init__(self, verified: api.Verified) -> None:
            super().__init__()
            self.verified = verified

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.signup_id: str | None = None
        self.email = ""
        self.expected_seq = 0
        self.expires_at: object = None
        self._countdown: Timer | None = None

    def compose(self) -> ComposeResult:
        with ContentSwitcher(initial="signup-form", id="signup-steps"):
            with Vertical(id="signup-form", classes="form"):
                yield Static("Create an account. A 6-digit code is mailed to you.", classes="hint")
                yield Field("First name", "first_name", id="signup-first-name")
                yield Field("Last name", "last_name", id="signup-last-name")
                yield Field("Username", "username", id="signup-username")
                yield Field("Email", "email", id="signup-email")
                yield Field("Password", "password", password=True, id="signup-password")
                with Horizontal(classes="buttons"):
                    yield Button("Sign up", variant="primary", id="signup-submit")
                yield FormStatus(id="signup-form-status")
            with Vertical(id="signup-code", classes="form"):
                yield Static("", id="signup-expect", markup=False)
                yield Field("Code", "code", placeholder="6 digits", id="signup-code-field")
                with Horizontal(classes="buttons"):
                    yield Button("Verify", variant="primary", id="signup-verify")
                    yield Button("Resend", id="signup-resend")
                    yield Button("Start over", id="signup-restart")
                yield Static("", id="signup-attempts", markup=False)
                yield Static("", id="signup-resend-wait", markup=False)
                yield FormStatus(id="signup-code-status")

    # --- actions ---------------------------------------------------------------------------

    @on(Button.Pressed, "#signup-submit")
    def submit(self) -> None:
        self.begin("signup-form", "Signing up…")
        self.start_signup(self.values("signup-form"))

    @on(Button.Pressed, "#signup-verify")
    def verify(self) -> None:
        if self.signup_id is None:
            return
        self.begin("signup-code", f"Verifying code for signup {self.signup_id}…")
        self.verify_code(self.signup_id, self.query_one("#signup-code-field", Field).value)

    @on(Button.Pressed, "#signup-resend")
    def resend(self) -> None:
        if self.signup_id is None or self.resend_wait > 0:
            return
        self.begin("signup-code", "Asking for a new code…")
        self.resend_code(self.signup_id)

    @on(Button.Pressed, "#signup-restart")
    def restart(self) -> None:
        self.signup_id = None
        self.resend_wait = 0
        self.query_one("#signup-attempts", Static).update("")
        self.query_one("#signup-steps", ContentSwitcher).current = "signup-form"

    def use_code(self, mail: MailSummary) -> None:
        """Fill the code from a mail, saying so when the mail cannot be the right one."""
        code = mail.codes[0] if mail.codes else ""
        self.query_one("#signup-code-field", Field).value = code
        status = self.query_one("#signup-code-status", FormStatus)
        warnings = []
        if self.signup_id is None:
            warnings.append("no signup is waiting for a code")
        elif mail.ref != self.signup_id:
            warnings.append(f"this mail is for signup {mail.ref}, not {self.signup_id}")
        if mail.superseded:
            warnings.append(f"this mail is SUPERSEDED by {mail.superseded_by}: its code is dead")
        elif mail.ref_seq is not None and mail.ref_seq != self.expected_seq:
            warnings.append(
                f"this is code #{mail.ref_seq}, the signup expects #{self.expected_seq}"
            )
        seq = f"#{mail.ref_seq}" if mail.ref_seq is not None else "?"
        text = f"Code {code} ({seq}) taken from mail {mail.id}."
        if warnings:
            status.info(f"{text} Warning: {'; '.join(warnings)}.")
        else:
            status.ok(f"{text} Press Verify.")

    # --- workers: network off the UI's path; results come back as messages ------------------

    @work(exclusive=True, group="signup", exit_on_error=False)
    async def start_signup(self, form: dict[str, str]) -> None:
        try:
            started = await self.acctkit.accounts.signup_start(**form)
        except ApiProblem as problem:
            self.post_message(self.Failed("signup-form", problem))
            return
        self.post_message(self.Started(started))

    @work(exclusive=True, group="signup", exit_on_error=False)
    async def verify_code(self, signup_id: str, code: str) -> None:
        try:
            verified = await self.acctkit.accounts.signup_verify(signup_id, code)
        except ApiProblem as problem:
            self.post_message(self.Failed("signup-code", problem))
            return
        self.post_message(self.Verified(verified))

    @work(exclusive=True, group="signup", exit_on_error=False)
    async def resend_code(self, signup_id: str) -> None:
        try:
            sent = await self.acctkit.accounts.signup_resend(signup_id)
        except ApiProblem as problem:
            self.post_message(self.Failed("signup-code", problem))
            return
        self.post_message(self.Resent(sent))

    # --- replies -----------------------------------------------------------------------------

    def on_signup_pane_started(self, message: Started) -> None:
        started = message.started
        self.signup_id = started.signup_id
        self.email = started.email
        self.expected_seq = 1
        self.expires_at = started.expires_at
        self.status("signup-form").ok(f"Signup {started.signup_id} started.")
        self.query_one("#signup-code-field", Field).value = ""
        self.query_one("#signup-attempts", Static).update("")
        self.status("signup-code").ok(f"Code #1 mailed to {started.email}.")
        self._show_expectation()
        self.query_one("#signup-steps", ContentSwitcher).current = "signup-code"
        self.query_one("#signup-code-field", Field).input.focus()

    def on_signup_pane_resent(self, message: Resent) -> None:
        self.expected_seq += 1
        self.expires_at = message.sent.expires_at
        self._show_expectation()
        self.status("signup-code").ok(
            f"Code #{self.expected_seq} mailed to {self.email}; every earlier code is dead."
        )

    def on_signup_pane_verified(self, message: Verified) -> None:
        user = message.verified.user
        self.status("signup-code").ok(f"Verified: welcome, {user.username} (id {user.id}).")
        self.acctkit.show_user(user)
        self.post_message(SessionChanged())

    def failed(self, form: str, problem: ApiProblem) -> None:
        attempts = self.query_one("#signup-attempts", Static)
        if problem.code == "code_invalid" and problem.attempts_left is not None:
            attempts.update(f"attempts_left: {problem.attempts_left}")
        elif problem.code == "too_many_attempts":
            attempts.update("attempts_left: 0 (locked: start over)")
        elif problem.code == "code_superseded":
            current = problem.extra.get("current_seq")
            if isinstance(current, int) and current != self.expected_seq:
                self.expected_seq = current
                self._show_expectation()
        elif problem.code == "resend_too_soon":
            self.start_countdown(problem.retry_after or 0)

    # --- the resend countdown --------------------------------------------------------------

    def start_countdown(self, seconds: int) -> None:
        self.resend_wait = max(0, seconds)
        if self._countdown is None:
            self._countdown = self.set_interval(1, self._tick)

    def _tick(self) -> None:
        if self.resend_wait > 0:
            self.resend_wait -= 1

    def watch_resend_wait(self, seconds: int) -> None:
        self.query_one("#signup-resend", Button).disabled = seconds > 0
        text = f"resend_too_soon: Resend possible in {seconds} s" if seconds > 0 else ""
        self.query_one("#signup-resend-wait", Static).update(text)

    def _show_expectation(self) -> None:
        self.query_one("#signup-expect", Static).update(
            f"Signup {self.signup_id} for {self.email}\n"
            f"Expecting code #{self.expected_seq}, valid until {clock_time(self.expires_at)}"
        )
