"""The signed-in user's own data: names, avatar, email (with a mailed code) and deletion."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from tui.api import ApiProblem, MailSummary, User
from tui.screens.flow import FlowPane, SessionChanged
from tui.widgets.form import Field, FormStatus


class ProfilePane(FlowPane):
    class Done(Message):
        """A profile action succeeded; `user` is the new state when the route returns one."""

        def __init__(self, form: str, text: str, user: User | None, logged_out: bool) -> None:
            super().__init__()
            self.form = form
            self.text = text
            self.user = user
            self.logged_out = logged_out

    def compose(self) -> ComposeResult:
        with Vertical(id="profile-names", classes="form"):
            yield Static("Names (empty fields are left unchanged)", classes="section")
            yield Field("First name", "first_name", id="profile-first-name")
            yield Field("Last name", "last_name", id="profile-last-name")
            yield Field("Username", "username", id="profile-username")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="profile-save")
            yield FormStatus()
        with Vertical(id="profile-avatar", classes="form"):
            yield Static("Avatar", classes="section")
            yield Field(
                "Image file path", "avatar", placeholder="~/me.png", id="profile-avatar-path"
            )
            with Horizontal(classes="buttons"):
                yield Button("Upload", variant="primary", id="profile-avatar-upload")
                yield Button("Remove avatar", id="profile-avatar-delete")
            yield FormStatus()
        with Vertical(id="profile-email", classes="form"):
            yield Static("Change email (a code goes to the new address)", classes="section")
            yield Field("New email", "email", id="profile-new-email")
            yield Field("Password", "password", password=True, id="profile-email-password")
            with Horizontal(classes="buttons"):
                yield Button("Send code", variant="primary", id="profile-email-send")
            yield FormStatus()
        with Vertical(id="profile-email-code", classes="form"):
            yield Field("Code from the mail", "code", id="profile-email-code-field")
            with Horizontal(classes="buttons"):
                yield Button("Verify email", variant="primary", id="profile-email-verify")
            yield FormStatus()
        with Vertical(id="profile-delete", classes="form"):
            yield Static("Delete the account (no undo)", classes="section")
            yield Field("Password", "password", password=True, id="profile-delete-password")
            with Horizontal(classes="buttons"):
                yield Button("Delete account", variant="error", id="profile-delete-submit")
            yield FormStatus()

    def use_code(self, mail: MailSummary) -> None:
        code = mail.codes[0] if mail.codes else ""
        self.query_one("#profile-email-code-field", Field).value = code
        note = f" Warning: SUPERSEDED by {mail.superseded_by}." if mail.superseded else ""
        self.status("profile-email-code").info(f"Code {code} taken from mail {mail.id}.{note}")

    # --- actions -----------------------------------------------------------------------------

    @on(Button.Pressed, "#profile-save")
    def save(self) -> None:
        changes = {k: v for k, v in self.values("profile-names").items() if v.strip()}
        self.begin("profile-names", "Saving…")
        self.run("profile-names", "Saved.", lambda a: a.update_me(**changes))

    @on(Button.Pressed, "#profile-avatar-upload")
    def upload(self) -> None:
        path = self.query_one("#profile-avatar-path", Field).value.strip()
        self.begin("profile-avatar", f"Uploading {path}…")
        self.run("profile-avatar", "Avatar uploaded.", lambda a: a.put_avatar(path))

    @on(Button.Pressed, "#profile-avatar-delete")
    def remove_avatar(self) -> None:
        self.begin("profile-avatar", "Removing the avatar…")
        self.run("profile-avatar", "Avatar removed.", lambda a: a.delete_avatar())

    @on(Button.Pressed, "#profile-email-send")
    def send_email_code(self) -> None:
        values = self.values("profile-email")
        self.begin("profile-email", "Sending a code…")
        self.run(
            "profile-email",
            f"Code mailed to {values['email']}: see the Mailbox.",
            lambda a: a.email_change(values["email"], values["password"]),
        )

    @on(Button.Pressed, "#profile-email-verify")
    def verify_email(self) -> None:
        code = self.query_one("#profile-email-code-field", Field).value
        self.begin("profile-email-code", "Verifying…")
        self.run("profile-email-code", "Email changed.", lambda a: a.email_verify(code))

    @on(Button.Pressed, "#profile-delete-submit")
    def delete_account(self) -> None:
        password = self.query_one("#profile-delete-password", Field).value
        self.begin("profile-delete", "Deleting the account…")
        self.run("profile-delete", "Account deleted.", lambda a: a.delete_me(password), True)

    @work(exclusive=True, group="profile", exit_on_error=False)
    async def run(
        self,
        form: str,
        text: str,
        call: Callable[[Any], Awaitable[Any]],
        logs_out: bool = False,
    ) -> None:
        try:
            result = await call(self.acctkit.accounts)
        except ApiProblem as problem:
            self.post_message(self.Failed(form, problem))
            return
        user = result if isinstance(result, User) else None
        self.post_message(self.Done(form, text, user, logs_out))

    def on_profile_pane_done(self, message: Done) -> None:
        message.stop()
        self.status(message.form).ok(message.text)
        for field in self.fields(message.form):
            if field.input.password:
                field.value = ""
        if message.user is not None:
            self.acctkit.show_user(message.user)
        if message.logged_out:
            self.acctkit.show_user(None)
            self.post_message(SessionChanged())
