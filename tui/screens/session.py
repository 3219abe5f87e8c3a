"""Log in, and the signed-in user: who the service thinks you are, and the ways to log out."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from tui.api import ApiProblem, User
from tui.screens.flow import FlowPane, SessionChanged
from tui.widgets.form import Field, FormStatus


class LoginPane(FlowPane):
    class LoggedIn(Message):
        pass

    def compose(self) -> ComposeResult:
        with Vertical(id="login-form", classes="form"):
            yield Static("Log in with a username or an email address.", classes="hint")
            yield Field("Username or email", "username", id="login-username")
            yield Field("Password", "password", password=True, id="login-password")
            with Horizontal(classes="buttons"):
                yield Button("Log in", variant="primary", id="login-submit")
            yield FormStatus(id="login-status")

    @on(Button.Pressed, "#login-submit")
    def submit(self) -> None:
        self.begin("login-form", "Logging in…")
        values = self.values("login-form")
        self.log_in(values["username"], values["password"])

    @work(exclusive=True, group="login", exit_on_error=False)
    async def log_in(self, username: str, password: str) -> None:
        try:
            await self.acctkit.accounts.login(username, password)
        except ApiProblem as problem:
            self.post_message(self.Failed("login-form", problem))
            return
        self.post_message(self.LoggedIn())

    def on_login_pane_logged_in(self, message: LoggedIn) -> None:
        message.stop()
        self.status("login-form").ok("Logged in.")
        self.query_one("#login-password", Field).value = ""
        self.post_message(SessionChanged())


class MePane(FlowPane):
    """GET /api/me/ and the two kinds of logout. Replies that arrive after the login changed
    are dropped (the dictionary example's stale-reply rule)."""

    class Loaded(Message):
        def __init__(self, user: User, generation: int) -> None:
            super().__init__()
            self.user = user
            self.generation = generation

    class LoggedOut(Message):
        def __init__(self, everywhere: bool) -> None:
            super().__init__()
            self.everywhere = everywhere

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.user: User | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="me-form", classes="form"):
            yield Static("Not logged in.", id="me-user", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Refresh", variant="primary", id="me-refresh")
                yield Button("Log out", id="me-logout")
                yield Button("Log out everywhere", variant="warning", id="me-logout-all")
            yield FormStatus(id="me-status")

    @on(Button.Pressed, "#me-refresh")
    def refresh_me(self) -> None:
        self.begin("me-form", "Loading /api/me/…")
        self.load(self.acctkit.generation)

    @on(Button.Pressed, "#me-logout")
    def logout(self) -> None:
        self.begin("me-form", "Logging out…")
        self.log_out(everywhere=False)

    @on(Button.Pressed, "#me-logout-all")
    def logout_all(self) -> None:
        self.begin("me-form", "Logging out everywhere…")
        self.log_out(everywhere=True)

    @work(exclusive=True, group="me", exit_on_error=False)
    async def load(self, generation: int) -> None:
        try:
            user = await self.acctkit.accounts.me()
        except ApiProblem as problem:
            self.post_message(self.Failed("me-form", problem))
            if not self.acctkit.accounts.logged_in:
                self.post_message(SessionChanged())
            return
        self.post_message(self.Loaded(user, generation))

    @work(exclusive=True, group="me", exit_on_error=False)
    async def log_out(self, everywhere: bool) -> None:
        accounts = self.acctkit.accounts
        try:
            await (accounts.logout_all() if everywhere else accounts.logout())
        except ApiProblem as problem:
            self.post_message(self.Failed("me-form", problem))
            return
        self.post_message(self.LoggedOut(everywhere))

    def on_me_pane_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.generation != self.acctkit.generation:
            return  # the login changed while this was in flight
        self.acctkit.show_user(message.user)
        self.status("me-form").ok("Loaded /api/me/.")

    def on_me_pane_logged_out(self, message: LoggedOut) -> None:
        message.stop()
        self.show(None)
        where = "everywhere: every token of this user is revoked" if message.everywhere else ""
        self.status("me-form").ok(f"Logged out {where}".strip() + ".")
        self.post_message(SessionChanged())

    def show(self, user: User | None) -> None:
        self.user = user
        self.query_one("#me-user", Static).update(user_text(user))


def user_text(user: User | None) -> str:
    if user is None:
        return "Not logged in."
    joined = user.date_joined.isoformat() if user.date_joined else "?"
    return "\n".join(
        [
            f"id:             {user.id}",
            f"username:       {user.username}",
            f"email:          {user.email}",
            f"email_verified: {user.email_verified}",
            f"first_name:     {user.first_name}",
            f"last_name:      {user.last_name}",
            f"avatar_url:     {user.avatar_url or '-'}",
            f"date_joined:    {joined}",
        ]
    )
