"""The acctkit TUI: one tab per flow, a live mailbox and a log of every HTTP exchange."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Footer, Header, Input, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from tui.client import (
    AccountsClient,
    ApiProblem,
    Exchange,
    HttpLog,
    MailClient,
    MailSummary,
    User,
)
from tui.screens.flow import SessionChanged, Waiting
from tui.screens.http_log import HttpLogPane
from tui.screens.mailbox import MailboxPane
from tui.screens.password import PasswordPane
from tui.screens.profile import ProfilePane
from tui.screens.session import LoginPane, MePane
from tui.screens.signup import SignupPane
from tui.screens.trace import TraceScreen
from tui.trace import mail_trace, request_trace
from tui.widgets.health import HealthBanner, ServiceHealth, header_text
from tui.widgets.mail_table import MailTable
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


class HealthChecked(Message):
    def __init__(self, results: dict[str, str | None]) -> None:
        super().__init__()
        self.results = results  # service name -> None when up, else why it is down


class LoginEnded(Message):
    """The refresh ahead of expiry was refused: the login is over."""

    def __init__(self, problem: ApiProblem) -> None:
        super().__init__()
        self.problem = problem


class AcctkitApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "acctkit"
    # One footer entry stands for the seven tab keys, so the footer fits 80 columns; the keys
    # panel (ctrl+p, "Keys") lists each of them.
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(
                key,
                f"show_tab('{tab}')",
                "Tabs" if key == "f1" else title,
                show=key == "f1",
                key_display="F1-F7" if key == "f1" else None,
                tooltip=help_text,
            )
            for tab, title, key, help_text in TABS
        ),
        Binding("ctrl+q", "quit", "Quit"),
        # Tab moves focus before any key typed after it is handed on. As Textual's plain
        # binding it ran only when the field reached it in its own queue, behind the keys that
        # followed, so a burst ("Ada<Tab>Lovelace", as a password manager's auto-type or a
        # paste of keystrokes sends it) landed in one field. No widget here takes Tab for itself
        # (a TextArea indenting with it would need this binding made conditional).
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
        # Ctrl+C quits, as in every other terminal program (it copies when text is selected).
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
    ]
    # Seconds between readiness polls while everything is up, and while something is down.
    HEALTH_INTERVAL = 5.0
    HEALTH_RETRY = 1.0

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        mail_url: str = "http://127.0.0.1:8025",
        now: Callable[[], datetime] | None = None,
    ):
        super().__init__()
        # Every countdown reads this clock, so tests move time instead of sleeping.
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.url = url
        self.mail_url = mail_url
        self.http_log = HttpLog()
        self.accounts = AccountsClient(url, self.http_log)
        self.mail = MailClient(mail_url, self.http_log)
        # Bumped on every login change; replies started under an older one are stale.
        self.generation = 0
        self.health: dict[str, ServiceHealth] = {
            "accounts": ServiceHealth("accounts", url, None),
            "devmail": ServiceHealth("devmail", mail_url, None),
        }
        self._check_health = asyncio.Event()
        # Held, not queried: a health report may land while another screen is on top.
        self.banner = HealthBanner(id="health-banner")

    def compose(self) -> ComposeResult:
        # Subscribed before any pane exists: the mailbox connects as soon as it is mounted.
        self.http_log.subscribe(lambda exchange: self.post_message(ExchangeRecorded(exchange)))
        yield Header()
        yield self.banner
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
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = header_text(tuple(self.health.values()))
        self.watch_health()
        self.keep_tokens_fresh()
        # A person starts typing at once: the first signup field has focus, not the tab bar.
        # (Set once here; an app-wide AUTO_FOCUS would re-apply on every screen resume and,
        # focusing a hidden tab's field, switch tabs under the person.)
        self.query_one("#signup-first-name-input").focus()

    async def on_unmount(self) -> None:
        await self.accounts.close()
        await self.mail.close()

    def action_interrupt(self) -> None:
        focused = self.focused
        if isinstance(focused, Input) and focused.selected_text:
            focused.action_copy()
            return
        self.exit()

    # --- health and tokens: background loops that never block the interface ------------------

    @work(exclusive=True, group="health", exit_on_error=False)
    async def watch_health(self) -> None:
        """Poll both readiness routes (short timeout, concurrently); poll faster while one is
        failing so recovery shows within a second, and at once when a request fails. A service
        counts as down after two failed polls in a row: one slow answer on a loaded laptop
        does not flash the banner (and shift the layout under the person's mouse)."""
        names = ("accounts", "devmail")
        failures = dict.fromkeys(names, 0)
        while True:
            self._check_health.clear()
            outcomes = await asyncio.gather(
                self.accounts.ready(), self.mail.ready(), return_exceptions=True
            )
            results: dict[str, str | None] = {}
            for name, outcome in zip(names, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    failures[name] += 1
                    if failures[name] >= 2:
                        results[name] = _why_down(outcome)
                else:
                    failures[name] = 0
                    results[name] = None
            self.post_message(HealthChecked(results))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._check_health.wait(),
                    self.HEALTH_RETRY if any(failures.values()) else self.HEALTH_INTERVAL,
                )

    def check_health_now(self) -> None:
        self._check_health.set()

    def on_health_checked(self, message: HealthChecked) -> None:
        now = datetime.now(UTC)
        for name, reason in message.results.items():
            before = self.health[name]
            up = reason is None
            if before.up is not up:
                self.health[name] = ServiceHealth(name, before.url, up, reason or "", now)
                if up and before.up is False:
                    self.notify(f"{name} is back.", title="Health")
                    if name == "devmail":  # reconnect now, not after the stream's backoff
                        self.query_one(MailboxPane).follow()
            elif not up:
                self.health[name] = ServiceHealth(name, before.url, up, reason or "", before.since)
        states = tuple(self.health.values())
        self.sub_title = header_text(states)
        self.banner.show(states)

    @work(exclusive=True, group="tokens", exit_on_error=False)
    async def keep_tokens_fresh(self) -> None:
        """Refresh the access token shortly before it expires (the client shares one refresh
        with any request that hits a 401 meanwhile)."""
        while True:
            due = self.accounts.refresh_in()
            if due is None or due > 0:
                await asyncio.sleep(1.0 if due is None else min(due, 1.0))
                continue
            try:
                await self.accounts.refresh_if_due()
            except ApiProblem as problem:
                if not self.accounts.logged_in:
                    self.post_message(LoginEnded(problem))
                else:  # unreachable: the banner says so; try again shortly
                    await asyncio.sleep(self.HEALTH_RETRY * 2)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The app's own loops (health, tokens); the panes report theirs (FlowPane).
        if event.worker.node is self and event.state == WorkerState.ERROR:
            self.worker_failed(event.worker)

    def on_login_ended(self, message: LoginEnded) -> None:
        self.notify(
            f"Your login ended: the token refresh was refused ({message.problem.code}).",
            severity="warning",
            timeout=10,
        )
        self.post_message(SessionChanged())

    # --- navigation ------------------------------------------------------------------------

    def action_show_tab(self, tab: str, focus: str | None = None) -> None:
        """Switch tabs and move focus into the new one (to the widget `focus` names, else the
        first field): left on a widget of a hidden tab, focus would hop to a hidden sibling and
        TabbedContent would switch straight back."""
        tabs = self.query_one("#tabs", TabbedContent)
        self.set_focus(None)
        tabs.active = tab
        self.call_after_refresh(self._focus_first_field, tab, focus)

    def _focus_first_field(self, tab: str, focus: str | None = None) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        # A focus event still queued from the old tab (the button just clicked) may have pulled
        # TabbedContent back meanwhile; the newest request wins.
        if tabs.active != tab:
            tabs.active = tab
        pane = tabs.get_pane(tab)
        if focus is not None:
            wanted = pane.query(f"#{focus}")
            if wanted:
                target = wanted.first()
                for node in target.ancestors:
                    # a form inside a nested TabbedContent: show its tab first
                    if isinstance(node, TabPane) and isinstance(node.parent, Widget):
                        nested = node.parent.parent
                        if isinstance(nested, TabbedContent) and nested is not tabs:
                            nested.active = str(node.id)
                self.set_focus(target)
                return
        # A field first, else a list (arrow keys move it at once: on the Mailbox tab they used
        # to land on its first button), else a button; never the containers that hold them.
        shown = [w for w in pane.query("*") if w.focusable and w is not pane and _shown(w, pane)]
        ranked = [[w for w in shown if isinstance(w, kind)] for kind in (Input, DataTable, Button)]
        target = next((group[0] for group in (*ranked, shown) if group), None)
        if target is not None:
            self.set_focus(target)

    @property
    def active_tab(self) -> str:
        return self.query_one("#tabs", TabbedContent).active

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for tab, title, key, help_text in TABS:
            yield SystemCommand(
                title, f"{help_text} [{key}]", lambda tab=tab: self.action_show_tab(tab)
            )
        # Every sub-tab and every button of every tab, so any action is one fuzzy search away.
        tabs = self.query_one("#tabs", TabbedContent)
        for tab, title, *_ in TABS:
            for nested in tabs.get_pane(tab).query(TabbedContent):
                for sub in nested.query(TabPane):
                    first = next((i for i in sub.query(Input) if i.id), None)
                    if first is None or sub.id is None:
                        continue
                    label = nested.get_tab(sub.id).label_text
                    yield SystemCommand(
                        f"{title} / {label}",
                        f"Open {label} in the {title} tab",
                        lambda tab=tab, first=first: self.action_show_tab(tab, focus=first.id),
                    )
            for button in tabs.get_pane(tab).query(Button):
                if button.id is None:
                    continue
                label = str(button.label)
                yield SystemCommand(
                    f"{title}: {label}",
                    f"Press {label} in the {title} tab",
                    lambda tab=tab, button=button: self._press(tab, button),
                )

    def _press(self, tab: str, button: Button) -> None:
        self.action_show_tab(tab, focus=button.id)
        button.press()

    # --- shared state ----------------------------------------------------------------------

    def on_exchange_recorded(self, message: ExchangeRecorded) -> None:
        # query, not query_one: this can run before the panes are mounted (they catch up then).
        if not message.exchange.background:  # the mailbox's own reads would drown the rest
            for line in self.query(StatusLine):
                line.exchange(message.exchange)
        for pane in self.query(HttpLogPane):
            pane.post_message(HttpLogPane.Recorded(message.exchange))

    def on_session_changed(self, message: SessionChanged) -> None:
        self.generation += 1
        me = self.query_one(MePane)
        if self.accounts.logged_in:
            self.query_one(StatusLine).who = "logged in"
            if message.show_me:
                self.action_show_tab("me")
            me.refresh_me()
        else:
            self.show_user(None)

    def recheck_login(self) -> None:
        """Something may have ended this login on the service (a reset of its user's
        password): GET /api/me/ says so, and a refused refresh logs out here too."""
        if self.accounts.logged_in:
            self.query_one(MePane).refresh_me()

    def show_user(self, user: User | None) -> None:
        self.query_one(MePane).show(user)
        self.query_one(ProfilePane).show_user(user)  # prefilled from the same GET /api/me/
        self.query_one(StatusLine).who = (
            f"logged in as {user.username} (id {user.id})" if user else "not logged in"
        )

    def use_mail(self, mail: MailSummary) -> str:
        """Hand a mail's code or link to the flow that waits for it, with focus on the field it
        filled (Enter then submits that form and no other); say where it went."""
        if mail.flow == "password-reset":
            self.query_one(PasswordPane).use_link(mail)
            self.action_show_tab("password", focus="reset-uid-input")
            return "the Password tab"
        if mail.flow == "email-change":
            self.query_one(ProfilePane).use_code(mail)
            self.action_show_tab("profile", focus="profile-email-code-field-input")
            return "the Profile tab"
        self.query_one(SignupPane).use_code(mail)
        self.action_show_tab("signup", focus="signup-code-field-input")
        return "the Sign up tab"

    def waiting(self) -> list[Waiting]:
        """Flows waiting for a mailed code or link, the most recently started first."""
        panes = (SignupPane, ProfilePane, PasswordPane)
        found = [w for p in panes if (w := self.query_one(p).waiting) is not None]
        return sorted(found, key=lambda w: w.since, reverse=True)

    def show_trace_of_request(self, exchange: Exchange) -> None:
        """The mail(s) an HTTP exchange caused (their RequestID is its request id)."""
        table = self.query_one(MailTable)
        states = {m.id: table.life(m).text for m in table.mails.values()}
        lines = request_trace(exchange, table.mails.values(), states)
        self.push_screen(TraceScreen(f"Trace of request #{exchange.id}", lines))

    def show_trace_of_mail(self, mail: MailSummary) -> None:
        """The request that caused a mail, and every attempt this TUI made against its ref."""
        table = self.query_one(MailTable)
        states = {m.id: table.life(m).text for m in table.mails.values()}
        lines = mail_trace(mail, table.mails.values(), self.http_log.entries, states)
        self.push_screen(TraceScreen(f"Trace of mail {mail.id}", lines))

    def mark_used(self, ref: str | None, secret: str) -> None:
        """A code or link this TUI just spent: the mailbox shows its mail as used."""
        self.query_one(MailTable).mark_used(ref, secret)

    def worker_failed(self, worker: Worker[object]) -> None:
        """Central handling of what no worker expected (ApiProblem is handled where it occurs):
        the interface stays up and says what broke."""
        self.notify(f"{worker.name} failed: {worker.error!r}", severity="error", timeout=10)


def _why_down(error: BaseException) -> str:
    if isinstance(error, ApiProblem):
        if error.status == 0:
            return str(error.extra.get("reason") or "no answer")
        return f"{error.status} {error.code}: {error.detail}"
    return repr(error)
