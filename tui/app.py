"""The acctkit TUI: one tab per flow, a live mailbox and a log of every HTTP exchange."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Footer, Header, Input, TabbedContent, TabPane
from textual.worker import Worker

from tui.api import AccountsClient, Exchange, HttpLog, MailClient, MailSummary, User
from tui.screens.flow import SessionChanged
from tui.screens.http_log import HttpLogPane
from tui.screens.mailbox import MailboxPane
from tui.screens.password import PasswordPane
from tui.screens.profile import ProfilePane
from tui.screens.session import LoginPane, MePane
from tui.screens.signup import SignupPane
from tui.widgets.status_line import StatusLine

# (tab id, title, key, what the command palette says)
TABS = (
    ("signup", "Sign up", "f1", "Start a signup and verify its emailed code"),
    ("login", "Log in", "f2", "Obtain tokens with a username or email and a password"),
    ("me", "Me", "f3", "The signed-in user; log out here or everywhere"),
    ("profile", "Profile", "f4", "Names, avatar, email change, delete the account"),
    ("password", "Password", "f5", "Change the password, or reset a forgotten one"),
    ("mailbox", "Mailbox", "f6", "Live list of what devmail caught"),
    ("log", "HTTP log", "f7", "Every request and response, secrets masked"),
)


def _shown(widget: Widget, within: Widget) -> bool:
    node: Widget | None = widget
    while node is not None and node is not within:
        if not node.display:
            return False
        node = node.parent if isinstance(node.parent, Widget) else None
    return True


class ExchangeRecorded(Message):
    def __init__(self, exchange: Exchange) -> None:
        super().__init__()
        self.exchange = exchange


class AcctkitApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "acctkit"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"show_tab('{tab}')", title) for tab, title, key, _ in TABS),
        Binding("ctrl+q", "quit", "Quit"),
    ]

    def __init__(self, url: str = "http://127.0.0.1:8000", mail_url: str = "http://127.0.0.1:8025"):
        super().__init__()
        self.url = url
        self.mail_url = mail_url
        self.http_log = HttpLog()
        self.accounts = AccountsClient(url, self.http_log)
        self.mail = MailClient(mail_url, self.http_log)
        # Bumped on every login change; replies started under an older one are stale.
        self.generation = 0

    def compose(self) -> ComposeResult:
        # Subscribed before any pane exists: the mailbox connects as soon as it is mounted.
        self.http_log.subscribe(lambda exchange: self.post_message(ExchangeRecorded(exchange)))
        yield Header()
        panes = {
            "signup": SignupPane(id="signup-pane"),
            "login": LoginPane(id="login-pane"),
            "me": MePane(id="me-pane"),
            "profile": ProfilePane(id="profile-pane"),
            "password": PasswordPane(id="password-pane"),
            "mailbox": MailboxPane(id="mailbox-pane"),
            "log": HttpLogPane(id="log-pane"),
        }
        with TabbedContent(initial="signup", id="tabs"):
            for tab, title, *_ in TABS:
                with TabPane(title, id=tab):
                    yield panes[tab]
        yield StatusLine(id="status-line")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.url}  ·  mail {self.mail_url}"
        # A person starts typing at once: the first signup field has focus, not the tab bar.
        # (Set once here; an app-wide AUTO_FOCUS would re-apply on every screen resume and,
        # focusing a hidden tab's field, switch tabs under the person.)
        self.query_one("#signup-first-name-input").focus()

    async def on_unmount(self) -> None:
        await self.accounts.close()
        await self.mail.close()

    # --- navigation ------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        """Switch tabs and move focus into the new one: left on a widget of a hidden tab, focus
        would hop to a hidden sibling and TabbedContent would switch straight back."""
        tabs = self.query_one("#tabs", TabbedContent)
        self.set_focus(None)
        tabs.active = tab
        self.call_after_refresh(self._focus_first_field, tab)

    def _focus_first_field(self, tab: str) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        # A focus event still queued from the old tab (the button just clicked) may have pulled
        # TabbedContent back meanwhile; the newest request wins.
        if tabs.active != tab:
            tabs.active = tab
        pane = tabs.get_pane(tab)
        # Fields and controls first, not the scrollable containers that hold them.
        shown = [w for w in pane.query("*") if w.focusable and w is not pane and _shown(w, pane)]
        controls = [w for w in shown if isinstance(w, Input | Button | DataTable)]
        target = (controls or shown or [None])[0]
        if target is not None:
            self.set_focus(target)

    @property
    def active_tab(self) -> str:
        return self.query_one("#tabs", TabbedContent).active

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for tab, title, _, help_text in TABS:
            yield SystemCommand(title, help_text, lambda tab=tab: self.action_show_tab(tab))

    # --- shared state ----------------------------------------------------------------------

    def on_exchange_recorded(self, message: ExchangeRecorded) -> None:
        # query, not query_one: this can run before the panes are mounted (they catch up then).
        for line in self.query(StatusLine):
            line.exchange(message.exchange)
        for pane in self.query(HttpLogPane):
            pane.post_message(HttpLogPane.Recorded(message.exchange))

    def on_session_changed(self, message: SessionChanged) -> None:
        self.generation += 1
        me = self.query_one(MePane)
        if self.accounts.logged_in:
            self.query_one(StatusLine).who = "logged in"
            self.action_show_tab("me")
            me.refresh_me()
        else:
            self.show_user(None)

    def show_user(self, user: User | None) -> None:
        self.query_one(MePane).show(user)
        self.query_one(StatusLine).who = (
            f"logged in as {user.username} (id {user.id})" if user else "not logged in"
        )

    def use_mail(self, mail: MailSummary) -> str:
        """Hand a mail's code or link to the flow that waits for it; say where it went."""
        if mail.flow == "password-reset":
            self.query_one(PasswordPane).use_link(mail)
            self.action_show_tab("password")
            return f"Link from {mail.id} is in the Password tab."
        if mail.flow == "email-change":
            self.query_one(ProfilePane).use_code(mail)
            self.action_show_tab("profile")
            return f"Code from {mail.id} is in the Profile tab."
        self.query_one(SignupPane).use_code(mail)
        self.action_show_tab("signup")
        return f"Code from {mail.id} is in the Sign up tab."

    def worker_failed(self, worker: Worker[object]) -> None:
        """Central handling of what no worker expected (ApiProblem is handled where it occurs):
        the interface stays up and says what broke."""
        self.notify(f"{worker.name} failed: {worker.error!r}", severity="error", timeout=10)
