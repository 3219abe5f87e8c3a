"""Sign up: the form, then the code step that says which signup and which code number it expects,
so a mail with an older code (or for another signup) is recognised at a glance."""

from __future__ import annotations

from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, ContentSwitcher, Static

from tui import client as api
from tui.client import ApiProblem, CodeSent, MailSummary, SignupStarted
from tui.mail_life import clock, expires_at
from tui.screens.flow import FlowPane, SessionChanged, Waiting
from tui.widgets.form import Field, FormStatus
from tui.widgets.mail_table import MailTable
from tui.widgets.wait_strip import WaitStrip


class SignupPane(FlowPane):
    """Start a signup, then verify or resend its code, with a live strip of the code's life."""

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
        self.expires_at: datetime | None = None
        self._tried = ""

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
                    yield Button("Sign up", variant="primary", id="signup-submit", compact=True)
                yield FormStatus(id="signup-form-status")
            with Vertical(id="signup-code", classes="form"):
                yield Static("", id="signup-expect", markup=False)
                yield WaitStrip(id="signup-strip")
                yield Field("Code", "code", placeholder="6 digits", id="signup-code-field")
                with Horizontal(classes="buttons"):
                    yield Button("Verify", variant="primary", id="signup-verify", compact=True)
                    yield Button("Resend", id="signup-resend", compact=True)
                    yield Button("Start over", id="signup-restart", compact=True)
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
        code = self.query_one("#signup-code-field", Field).value
        self._tried = "".join(code.replace("-", " ").split())  # as the service normalises it
        self.verify_code(self.signup_id, code)

    @property
    def strip(self) -> WaitStrip:
        return self.query_one("#signup-strip", WaitStrip)

    @on(Button.Pressed, "#signup-resend")
    def resend(self) -> None:
        if self.signup_id is None or not self.strip.resend_allowed:
            return
        self.begin("signup-code", "Asking for a new code…")
        self.resend_code(self.signup_id)

    @on(Button.Pressed, "#signup-restart")
    def restart(self) -> None:
        """Back to the form, with the keyboard in it: the button pressed is hidden now."""
        self.signup_id = None
        self.waiting = None
        self.strip.stop()
        self.query_one("#signup-steps", ContentSwitcher).current = "signup-form"
        self.status("signup-form").info("Started over: change what you need and sign up.")
        first = self.fields("signup-form")[0].input
        self.app.call_after_refresh(first.focus)

    @on(WaitStrip.ResendChanged, "#signup-strip")
    def resend_changed(self, event: WaitStrip.ResendChanged) -> None:
        self.query_one("#signup-resend", Button).disabled = not event.allowed

    def use_code(self, mail: MailSummary) -> None:
        """Fill the code from a mail, saying so when the mail cannot be the right one. A mail of
        a signup this session does not know (started before a restart, or elsewhere) resumes
        that signup: its id comes from the mail's X-Acctkit-Ref."""
        code = mail.codes[0] if mail.codes else ""
        if mail.ref and mail.ref != self.signup_id:
            self._resume(mail)
        self.query_one("#signup-code-field", Field).value = code
        status = self.query_one("#signup-code-status", FormStatus)
        warnings = []
        if self.signup_id is None:
            warnings.append("this mail names no signup")
        life = self.acctkit.query_one(MailTable).life(mail)
        if life.state == "superseded":
            warnings.append(f"this mail is {life.text}: its code is dead")
        elif life.state in ("expired", "used"):
            warnings.append(f"this code is {life.state}")
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

    def _resume(self, mail: MailSummary) -> None:
        """Wait for that signup's newest code as the mailbox knows it (resend stays allowed:
        its cooldown is unknown here, and the service answers 429 with Retry-After if early)."""
        head = self.acctkit.query_one(MailTable).newest(lambda m: m.ref == mail.ref) or mail
        self.signup_id = mail.ref
        self.email = head.to_text
        self.expected_seq = head.ref_seq or 1
        self.expires_at = expires_at(head)
        self.waiting = Waiting("signup", mail.ref)
        self.strip.wait(seq=self.expected_seq, expires_at=expires_at(head))
        self._show_expectation("resumed from its mail")
        self.query_one("#signup-steps", ContentSwitcher).current = "signup-code"

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
        self.waiting = Waiting("signup", started.signup_id)
        self.status("signup-form").ok(f"Signup {started.signup_id} started.")
        self.query_one("#signup-code-field", Field).value = ""
        self.strip.wait(
            seq=started.seq or 1,
            expires_at=started.expires_at,
            resend_after=started.resend_after,
        )
        table = self.acctkit.query_one(MailTable)
        table.state_expiry(started.signup_id, started.seq or 1, started.expires_at)
        self.status("signup-code").ok(f"Code #1 mailed to {started.email}.")
        self._show_expectation()
        self.query_one("#signup-steps", ContentSwitcher).current = "signup-code"
        self.query_one("#signup-code-field", Field).input.focus()

    def on_signup_pane_resent(self, message: Resent) -> None:
        sent = message.sent
        self.expected_seq = sent.seq or self.expected_seq + 1
        self.expires_at = sent.expires_at
        if self.signup_id is not None:
            table = self.acctkit.query_one(MailTable)
            table.state_expiry(self.signup_id, self.expected_seq, sent.expires_at)
        self.strip.wait(
            seq=self.expected_seq, expires_at=sent.expires_at, resend_after=sent.resend_after
        )
        self._show_expectation()
        self.status("signup-code").ok(
            f"Code #{self.expected_seq} mailed to {self.email}; every earlier code is dead."
        )

    def on_signup_pane_verified(self, message: Verified) -> None:
        user = message.verified.user
        self.waiting = None
        self.strip.stop("verified")
        if self.signup_id:
            self.acctkit.mark_used(self.signup_id, self._tried)
        self.status("signup-code").ok(f"Verified: welcome, {user.username} (id {user.id}).")
        self.acctkit.show_user(user)
        self.post_message(SessionChanged())

    def failed(self, form: str, problem: ApiProblem) -> None:
        strip = self.strip
        if problem.code == "code_invalid" and problem.attempts_left is not None:
            strip.attempts_left = problem.attempts_left
            strip.locked = problem.attempts_left == 0  # that was the last try
            strip.tick()
        elif problem.code == "too_many_attempts":
            strip.attempts_left = 0
            strip.locked = True
            strip.tick()
        elif problem.code == "code_superseded":
            current = problem.extra.get("current_seq")
            if isinstance(current, int) and current != self.expected_seq:
                self.expected_seq = current
                strip.seq = current
                strip.tick()
                self._show_expectation()
        elif problem.code == "code_expired":
            strip.tick()
        elif problem.code == "resend_too_soon":
            strip.resend_in(problem.retry_after or 0)

    def _show_expectation(self, note: str = "") -> None:
        extra = f" ({note})" if note else ""
        self.query_one("#signup-expect", Static).update(
            f"Signup {self.signup_id} for {self.email}{extra}: expecting code "
            f"#{self.expected_seq}, valid until {clock(self.expires_at)}"
        )
