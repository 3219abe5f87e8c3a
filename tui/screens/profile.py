"""The signed-in user's own data: names (prefilled from /api/me/), the avatar (picked with a file
dialog and shown in the terminal), email change (a mailed code with a live strip, like signup)
and deletion. One sub-tab per form, so each primary button is on screen at 80x24."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static, TabbedContent, TabPane

from tui.client import ApiProblem, CodeSent, MailSummary, User
from tui.mail_life import expires_at
from tui.screens.flow import FlowPane, SessionChanged, Waiting
from tui.widgets.avatar import AvatarView
from tui.widgets.form import Field, FormStatus
from tui.widgets.mail_table import MailTable
from tui.widgets.wait_strip import WaitStrip

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


class ProfilePane(FlowPane):
    class Done(Message):
        """A profile action succeeded; `user` is the new state when the route returns one."""

        def __init__(self, form: str, text: str, result: Any, logged_out: bool) -> None:
            super().__init__()
            self.form = form
            self.text = text
            self.result = result
            self.user = result if isinstance(result, User) else None
            self.logged_out = logged_out

    class AvatarFetched(Message):
        def __init__(self, content: bytes | None, generation: int) -> None:
            super().__init__()
            self.content = content
            self.generation = generation

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._change: tuple[str, str] | None = None  # (email, password) of a pending change
        self._user_id: int | None = None  # whose profile the forms show
        self._tried = ""

    def compose(self) -> ComposeResult:
        with TabbedContent(id="profile-tabs", classes="subtabs"):
            with (
                TabPane("Names", id="profile-tab-names"),
                Vertical(id="profile-names", classes="form"),
            ):
                yield Static("Names, prefilled from GET /api/me/", classes="section")
                yield Field("First name", "first_name", id="profile-first-name")
                yield Field("Last name", "last_name", id="profile-last-name")
                yield Field("Username", "username", id="profile-username")
                with Horizontal(classes="buttons"):
                    yield Button("Save", variant="primary", id="profile-save", compact=True)
                yield FormStatus()
            with (
                TabPane("Avatar", id="profile-tab-avatar"),
                Vertical(id="profile-avatar", classes="form"),
            ):
                yield Field(
                    "Image file", "avatar", placeholder="~/me.png", id="profile-avatar-path"
                )
                with Horizontal(classes="buttons"):
                    yield Button(
                        "Upload", variant="primary", id="profile-avatar-upload", compact=True
                    )
                    yield Button("Choose file…", id="profile-avatar-pick", compact=True)
                    yield Button("Remove avatar", id="profile-avatar-delete", compact=True)
                yield FormStatus()
                yield AvatarView(id="profile-avatar-image")
            with TabPane("Email", id="profile-tab-email"):
                with Vertical(id="profile-email", classes="form"):
                    yield Static("Change email: a code goes to the new address", classes="section")
                    yield Field("New email", "email", id="profile-new-email")
                    yield Field("Password", "password", password=True, id="profile-email-password")
                    with Horizontal(classes="buttons"):
                        yield Button(
                            "Send code", variant="primary", id="profile-email-send", compact=True
                        )
                    yield FormStatus()
                with Vertical(id="profile-email-code", classes="form"):
                    yield WaitStrip(id="profile-email-strip")
                    yield Field("Code from the mail", "code", id="profile-email-code-field")
                    with Horizontal(classes="buttons"):
                        yield Button(
                            "Verify email",
                            variant="primary",
                            id="profile-email-verify",
                            compact=True,
                        )
                        yield Button(
                            "Resend", id="profile-email-resend", compact=True, disabled=True
                        )
                    yield FormStatus()
            with (
                TabPane("Delete", id="profile-tab-delete"),
                Vertical(id="profile-delete", classes="form"),
            ):
                yield Static("Delete the account (no undo)", classes="section")
                yield Field("Password", "password", password=True, id="profile-delete-password")
                with Horizontal(classes="buttons"):
                    yield Button(
                        "Delete account",
                        variant="error",
                        id="profile-delete-submit",
                        compact=True,
                    )
                yield FormStatus()

    @property
    def strip(self) -> WaitStrip:
        return self.query_one("#profile-email-strip", WaitStrip)

    def use_code(self, mail: MailSummary) -> None:
        """Fill the email-change code from its mail; after a restart this resumes the change
        (the service keeps it pending for the logged-in user)."""
        code = mail.codes[0] if mail.codes else ""
        self.query_one("#profile-email-code-field", Field).value = code
        life = self.acctkit.query_one(MailTable).life(mail)
        if self.waiting is None or not self.strip.active:
            self.waiting = Waiting("email-change", to=mail.to_text)
            self.strip.wait(seq=mail.ref_seq, expires_at=expires_at(mail))
        note = "" if life.state == "current" else f" Warning: this code is {life.text}."
        who = "" if self.acctkit.accounts.logged_in else " Log in first: verifying needs it."
        seq = f" (#{mail.ref_seq})" if mail.ref_seq is not None else ""
        status = self.status("profile-email-code")
        text = f"Code {code}{seq} taken from mail {mail.id}.{note}{who}"
        (status.info if note or who else status.ok)(text)

    # --- the signed-in user --------------------------------------------------------------------

    def show_user(self, user: User | None) -> None:
        if self._user_id is not None and (user is None or user.id != self._user_id):
            self._forget_email_change()  # (a code taken before logging in stays)
        self._user_id = user.id if user else None
        names = {
            "profile-first-name": user.first_name if user else "",
            "profile-last-name": user.last_name if user else "",
            "profile-username": user.username if user else "",
        }
        for field_id, value in names.items():
            self.query_one(f"#{field_id}", Field).value = value
        self.fetch_avatar(user.avatar_url if user else None, self.acctkit.generation)

    def _forget_email_change(self) -> None:
        """A pending change belongs to the login that began it (with its password): once that
        login is over, Resend and `u` must not carry it on for the next user."""
        if self._change is None and self.waiting is None:
            return
        self._change = None
        self.waiting = None
        self.strip.stop()
        self.query_one("#profile-email-resend", Button).disabled = True
        self.query_one("#profile-email-code-field", Field).value = ""
        self.status("profile-email-code").info("")

    @work(exclusive=True, group="profile-avatar-image", exit_on_error=False)
    async def fetch_avatar(self, url: str | None, generation: int) -> None:
        content = None
        if url:
            try:
                content = await self.acctkit.accounts.avatar_image(url)
            except ApiProblem as problem:
                self.post_message(self.Failed("profile-avatar", problem))
        self.post_message(self.AvatarFetched(content, generation))

    def on_profile_pane_avatar_fetched(self, message: AvatarFetched) -> None:
        message.stop()
        if message.generation == self.acctkit.generation:
            self.query_one(AvatarView).show(message.content)

    # --- actions -----------------------------------------------------------------------------

    @on(Button.Pressed, "#profile-save")
    def save(self) -> None:
        # Every field, blank ones too: a name cleared by hand is the service's to refuse, next
        # to its field (dropped here, it left the name as it was under "Saved.").
        changes = self.values("profile-names")
        self.begin("profile-names", "Saving…")
        self.run("profile-names", "Saved.", lambda a: a.update_me(**changes))

    @on(Button.Pressed, "#profile-avatar-pick")
    def pick(self) -> None:
        from textual_fspicker import FileOpen, Filters

        # Images first; the filter list is the dialog's own (a Select beside the file name).
        filters = Filters(
            ("Images", lambda p: p.suffix.lower() in IMAGE_SUFFIXES), ("Any file", lambda _: True)
        )
        typed = self.query_one("#profile-avatar-path", Field).value.strip()
        current = Path(typed or ".").expanduser()
        start = current if current.is_dir() else current.parent
        dialog = FileOpen(start if start.is_dir() else Path.cwd(), filters=filters)
        self.app.push_screen(dialog, self.picked)

    def picked(self, path: Path | None) -> None:
        if path is None:
            return
        field = self.query_one("#profile-avatar-path", Field)
        field.value = str(path)
        # after the dialog is gone (closing it gives focus back to the button that opened it)
        self.app.call_after_refresh(field.input.focus)
        self.status("profile-avatar").info(f"{path.name} chosen: press Upload (or Enter).")

    @on(Button.Pressed, "#profile-avatar-upload")
    def upload(self) -> None:
        field = self.query_one("#profile-avatar-path", Field)
        path = Path(field.value.strip()).expanduser()
        self.begin("profile-avatar", f"Uploading {path}…")
        problem = _unreadable(path) if field.value.strip() else "Choose an image file first."
        if problem:
            self.post_message(
                self.Failed(
                    "profile-avatar",
                    ApiProblem(0, "file_unreadable", problem, {"avatar": [problem]}),
                )
            )
            return
        self.run("profile-avatar", "Avatar uploaded.", lambda a: a.put_avatar(path))

    @on(Button.Pressed, "#profile-avatar-delete")
    def remove_avatar(self) -> None:
        self.begin("profile-avatar", "Removing the avatar…")
        self.run("profile-avatar", "Avatar removed.", lambda a: a.delete_avatar())

    @on(Button.Pressed, "#profile-email-send")
    def send_email_code(self) -> None:
        values = self.values("profile-email")
        self._change = (values["email"], values["password"])
        self.begin("profile-email", "Sending a code…")
        self.run(
            "profile-email",
            f"Code mailed to {values['email']}: see the Mailbox.",
            lambda a: a.email_change(values["email"], values["password"]),
        )

    @on(Button.Pressed, "#profile-email-resend")
    def resend_email_code(self) -> None:
        """The contract has no separate resend route: asking again for the same address is
        the resend (a new code, the old one dies, the same cooldown applies)."""
        if self._change is None or not self.strip.resend_allowed:
            return
        email, password = self._change
        self.begin("profile-email-code", "Asking for a new code…")
        self.run(
            "profile-email-code",
            f"New code mailed to {email}; every earlier code is dead.",
            lambda a: a.email_change(email, password),
        )

    @on(WaitStrip.ResendChanged, "#profile-email-strip")
    def resend_changed(self, event: WaitStrip.ResendChanged) -> None:
        allowed = event.allowed and self._change is not None
        self.query_one("#profile-email-resend", Button).disabled = not allowed

    @on(Button.Pressed, "#profile-email-verify")
    def verify_email(self) -> None:
        code = self.query_one("#profile-email-code-field", Field).value
        self._tried = "".join(code.replace("-", " ").split())
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
        self.post_message(self.Done(form, text, result, logs_out))

    def on_profile_pane_done(self, message: Done) -> None:
        message.stop()
        self.status(message.form).ok(message.text)
        if isinstance(message.result, CodeSent):
            self._code_sent(message.result)
        if message.form == "profile-email-code" and message.user is not None:
            self._email_changed()
        if message.form in ("profile-email", "profile-delete"):
            for field in self.fields(message.form):
                if field.input.password:
                    field.value = ""
        if message.user is not None:
            self.acctkit.show_user(message.user)
            if message.form == "profile-avatar":
                self.fetch_avatar(message.user.avatar_url, self.acctkit.generation)
        elif message.form == "profile-avatar" and not message.logged_out:
            self.query_one(AvatarView).show(None)
        if message.logged_out:
            self.acctkit.show_user(None)
            self.post_message(SessionChanged())

    def _code_sent(self, sent: CodeSent) -> None:
        email = self._change[0] if self._change else None
        self.waiting = Waiting("email-change", to=email)
        self.strip.wait(seq=sent.seq, expires_at=sent.expires_at, resend_after=sent.resend_after)
        self.query_one("#profile-email-code-field", Field).value = ""

    def _email_changed(self) -> None:
        self.waiting = None
        self._change = None
        self.strip.stop("verified")
        mail = self.acctkit.query_one(MailTable).newest(
            lambda m: m.flow == "email-change" and self._tried in m.codes
        )
        if mail is not None:
            self.acctkit.mark_used(mail.ref, self._tried)

    def failed(self, form: str, problem: ApiProblem) -> None:
        strip = self.strip
        if form not in ("profile-email", "profile-email-code"):
            return
        if problem.code == "code_invalid" and problem.attempts_left is not None:
            strip.attempts_left = problem.attempts_left
            strip.locked = problem.attempts_left == 0  # that was the last try
        elif problem.code == "too_many_attempts":
            strip.attempts_left = 0
            strip.locked = True
        elif problem.code == "resend_too_soon":
            strip.resend_in(problem.retry_after or 0)
        strip.tick()


def _unreadable(path: Path) -> str:
    """Why a chosen avatar file cannot be sent, in words for the field (not a traceback)."""
    if not path.exists():
        return f"No such file: {path}"
    if not path.is_file():
        return f"Not a file: {path}"
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        return f"Cannot read {path}: {exc.strerror or exc}"
    return ""
