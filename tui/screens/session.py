"""Log in, and the signed-in user: who the service thinks you are, the logins (sessions) the
service holds for them, and the ways to end one, all others, or every one."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from tui.client import ApiProblem, Session, User
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
                yield Button("Log in", variant="primary", id="login-submit", compact=True)
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


SESSION_COLUMNS = (
    ("mark", "", 1),
    ("created", "created", 11),
    ("used", "last used", 14),
    ("ip", "address", 15),
    ("agent", "user agent", 18),
)


class MePane(FlowPane):
    """GET /api/me/, the user's sessions, and the ways to log out. Replies that arrive after the
    login changed are dropped (the dictionary example's stale-reply rule)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete", "end_session", "End session"),
    ]

    class SessionsLoaded(Message):
        def __init__(self, sessions: list[Session], generation: int) -> None:
            super().__init__()
            self.sessions = sessions
            self.generation = generation

    class SessionsEnded(Message):
        def __init__(self, ended: list[Session], current: bool) -> None:
            super().__init__()
            self.ended = ended
            self.current = current

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
        self.sessions: dict[str, Session] = {}
        self._ended_note = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="me-form", classes="form"):
            yield Static("Not logged in.", id="me-user", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Refresh", variant="primary", id="me-refresh", compact=True)
                yield Button("Log out", id="me-logout", compact=True)
                yield Button(
                    "Log out everywhere", variant="warning", id="me-logout-all", compact=True
                )
            yield FormStatus(id="me-status")
        with Vertical(id="sessions-form", classes="form"):
            yield Static("Sessions: each login of this user (● is this one).", classes="hint")
            table: DataTable[Text] = DataTable(id="sessions-table", cursor_type="row")
            for key, label, width in SESSION_COLUMNS:
                table.add_column(label, key=key, width=width)
            yield table
            with Horizontal(classes="buttons"):
                yield Button("Reload", variant="primary", id="sessions-reload", compact=True)
                yield Button("End selected", id="sessions-end", compact=True)
                yield Button(
                    "End all others", variant="warning", id="sessions-end-others", compact=True
                )
            yield FormStatus(id="sessions-status")

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
        self.load_sessions(message.generation)

    def on_me_pane_logged_out(self, message: LoggedOut) -> None:
        message.stop()
        self.show(None)
        where = "everywhere: every token of this user is revoked" if message.everywhere else ""
        self.status("me-form").ok(f"Logged out {where}".strip() + ".")
        self.post_message(SessionChanged())

    def show(self, user: User | None) -> None:
        self.user = user
        self.query_one("#me-user", Static).update(user_text(user))
        if user is None and self.sessions:
            self.show_sessions([])
            # its count ("2 session(s) ...") was about a login that is over
            self.status("sessions-form").info("Not logged in: no sessions to show.")

    # --- sessions ----------------------------------------------------------------------------

    @property
    def sessions_table(self) -> DataTable[Text]:
        return self.query_one("#sessions-table", DataTable)

    @on(Button.Pressed, "#sessions-reload")
    def reload_sessions(self) -> None:
        self.begin("sessions-form", "Loading /api/me/sessions/…")
        self.load_sessions(self.acctkit.generation)

    @on(Button.Pressed, "#sessions-end")
    def action_end_session(self) -> None:
        table = self.sessions_table
        if not table.row_count:
            self.status("sessions-form").info("No session is listed: log in, then Reload.")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        chosen = self.sessions.get(key or "")
        if chosen is None:
            return
        self.begin("sessions-form", "Ending the selected session…")
        self.end_sessions([chosen])

    @on(Button.Pressed, "#sessions-end-others")
    def end_others(self) -> None:
        others = [s for s in self.sessions.values() if not s.current]
        if not others:
            self.status("sessions-form").info("There is no other session to end.")
            return
        self.begin("sessions-form", f"Ending {len(others)} other session(s)…")
        self.end_sessions(others)

    @work(exclusive=True, group="sessions", exit_on_error=False)
    async def load_sessions(self, generation: int) -> None:
        try:
            found = await self.acctkit.accounts.sessions()
        except ApiProblem as problem:
            self.post_message(self.Failed("sessions-form", problem))
            return
        self.post_message(self.SessionsLoaded(found, generation))

    @work(exclusive=True, group="sessions", exit_on_error=False)
    async def end_sessions(self, chosen: list[Session]) -> None:
        """One DELETE per login, the caller's own last (ending it ends this login)."""
        accounts = self.acctkit.accounts
        ended: list[Session] = []
        for session in sorted(chosen, key=lambda s: s.current):
            try:
                await accounts.end_session(session.id, current=session.current)
            except ApiProblem as problem:
                if problem.code != "session_not_found":  # already gone: that is the goal
                    self.post_message(self.Failed("sessions-form", problem))
                    break
            ended.append(session)
        self.post_message(self.SessionsEnded(ended, any(s.current for s in ended)))

    def on_me_pane_sessions_loaded(self, message: SessionsLoaded) -> None:
        message.stop()
        if message.generation != self.acctkit.generation:
            return
        self.show_sessions(message.sessions)
        count = len(message.sessions)
        note, self._ended_note = self._ended_note, ""
        text = f"{note} {count} left." if note else f"{count} session(s) from /api/me/sessions/."
        self.status("sessions-form").ok(text)

    def on_me_pane_sessions_ended(self, message: SessionsEnded) -> None:
        message.stop()
        if not message.ended:
            return
        if message.current:
            self.show(None)
            self.status("sessions-form").ok("Ended this session: you are logged out.")
            self.post_message(SessionChanged())
            return
        self._ended_note = (
            f"Ended {len(message.ended)} session(s): their tokens stopped working at once."
        )
        self.status("sessions-form").ok(self._ended_note)
        self.load_sessions(self.acctkit.generation)

    def show_sessions(self, sessions: list[Session]) -> None:
        table = self.sessions_table
        selected = None
        if table.row_count:
            selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        self.sessions = {s.id: s for s in sessions}
        for session in sorted(sessions, key=lambda s: (not s.current, s.created_at)):
            style = "bold" if session.current else ""
            table.add_row(
                Text("●" if session.current else " ", style="green"),
                Text(_when(session.created_at, "%m-%d %H:%M"), style=style),
                Text(_when(session.last_used_at), style=style),
                Text(session.ip or "?", style=style),
                Text(session.user_agent or "?", style=style, overflow="ellipsis", no_wrap=True),
                key=session.id,
            )
        if selected in self.sessions:
            table.move_cursor(row=table.get_row_index(selected))


def _when(moment: datetime, form: str = "%m-%d %H:%M:%S") -> str:
    return moment.astimezone().strftime(form)


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
