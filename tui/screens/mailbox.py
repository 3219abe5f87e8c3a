"""The live mailbox: devmail's websocket keeps the list current; a selected mail shows its text,
codes and links, and "use this code" hands the code to the flow that is waiting for it."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from tui.api import ApiProblem, MailEvent, MailMessage, MailPage, MailSummary
from tui.screens.flow import FlowPane
from tui.widgets.form import FormStatus
from tui.widgets.mail_table import MailTable, state_of

RECONNECT_MAX_SECONDS = 10.0


class MailboxPane(FlowPane):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "use_code", "Use this code"),
        Binding("r", "reload", "Reload"),
        Binding("x", "delete_all", "Delete all"),
    ]

    class Listed(Message):
        def __init__(self, page: MailPage) -> None:
            super().__init__()
            self.page = page

    class Changed(Message):
        def __init__(self, event: MailEvent) -> None:
            super().__init__()
            self.event = event

    class Disconnected(Message):
        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    class Opened(Message):
        def __init__(self, message: MailMessage) -> None:
            super().__init__()
            self.message = message

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.live = False
        self.events_seen = 0
        self.shown: MailMessage | None = None
        self._wanted: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="buttons", id="mail-toolbar"):
            yield Button("Use this code", variant="primary", id="mail-use")
            yield Button("Reload", id="mail-reload")
            yield Button("Delete all", variant="error", id="mail-delete-all")
            yield Static("connecting…", id="mail-connection", markup=False)
        with VerticalScroll(id="mail-form", classes="form"):
            yield MailTable(id="mail-table")
            yield FormStatus(id="mail-status")
            yield Static("Select a message.", id="mail-detail", markup=False)

    @property
    def table(self) -> MailTable:
        return self.query_one(MailTable)

    def on_mount(self) -> None:
        self.follow()

    # --- the event stream --------------------------------------------------------------------

    @work(exclusive=True, group="mail-events", exit_on_error=False)
    async def follow(self) -> None:
        """Subscribe first, then list, so nothing that arrives in between is missed; reconnect
        with backoff when devmail goes away (it is a dev tool: it gets restarted)."""
        mail = self.acctkit.mail
        delay = 0.5
        while True:
            try:
                async for event in mail.events():
                    if event.type == "connected":
                        self.post_message(self.Listed(await mail.messages()))
                        delay = 0.5
                    else:
                        self.post_message(self.Changed(event))
                reason = "devmail closed the event stream"
            except ApiProblem as problem:
                reason = problem.detail
            self.post_message(self.Disconnected(reason))
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def on_mailbox_pane_listed(self, message: Listed) -> None:
        message.stop()
        self.live = True
        self.table.replace_all(message.page.messages)
        self._count()

    def on_mailbox_pane_changed(self, message: Changed) -> None:
        message.stop()
        self.events_seen += 1
        event = message.event
        if event.summary is None:
            return
        if event.type == "delete":
            self.table.remove(event.summary.id)
        else:
            self.table.upsert(event.summary)
        self._count()
        if self.shown is not None and self.shown.summary.id == event.summary.id:
            self._render_detail(self.shown, self.table.mails.get(event.summary.id))

    def on_mailbox_pane_disconnected(self, message: Disconnected) -> None:
        message.stop()
        self.live = False
        self._connection(f"offline: {message.reason} (retrying)")

    def _count(self) -> None:
        count = len(self.table.mails)
        self._connection(f"live: {count} message(s) from {self.acctkit.mail.base_url}")

    def _connection(self, text: str) -> None:
        self.query_one("#mail-connection", Static).update(text)

    # --- one message -------------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#mail-table")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is None or (self.shown is not None and self.shown.summary.id == key):
            return
        self._wanted = key
        self.open(key)

    @work(exclusive=True, group="mail-open", exit_on_error=False)
    async def open(self, message_id: str) -> None:
        try:
            found = await self.acctkit.mail.message(message_id)
        except ApiProblem as problem:
            self.post_message(self.Failed("mail-form", problem))
            return
        self.post_message(self.Opened(found))

    def on_mailbox_pane_opened(self, message: Opened) -> None:
        message.stop()
        if message.message.summary.id != self._wanted:
            return  # the cursor moved on while this was loading
        self.shown = message.message
        self._render_detail(message.message, self.table.mails.get(message.message.summary.id))

    def _render_detail(self, message: MailMessage, latest: MailSummary | None) -> None:
        summary = latest if latest is not None else message.summary
        lines = [
            f"From:    {summary.from_}",
            f"To:      {summary.to_text}",
            f"Subject: {summary.subject}",
            f"Flow:    {summary.flow or '-'}   Ref: {summary.ref or '-'}   "
            f"Seq: {summary.ref_seq if summary.ref_seq is not None else '-'}",
            f"State:   {state_of(summary)}",
            f"Codes:   {' '.join(summary.codes) or '-'}",
            f"Links:   {' '.join(summary.links) or '-'}",
            "",
            message.text,
        ]
        self.query_one("#mail-detail", Static).update("\n".join(lines))

    # --- actions -----------------------------------------------------------------------------

    @on(Button.Pressed, "#mail-use")
    def action_use_code(self) -> None:
        mail = self.table.selected
        if mail is None:
            self.status("mail-form").info("No message is selected.")
            return
        if not mail.codes and not mail.links:
            self.status("mail-form").info(f"Mail {mail.id} carries no code or link.")
            return
        self.status("mail-form").ok(self.acctkit.use_mail(mail))

    @on(Button.Pressed, "#mail-reload")
    def action_reload(self) -> None:
        self.reload()

    @on(Button.Pressed, "#mail-delete-all")
    def action_delete_all(self) -> None:
        self.delete_all()

    @work(exclusive=True, group="mail-list", exit_on_error=False)
    async def reload(self) -> None:
        try:
            page = await self.acctkit.mail.messages()
        except ApiProblem as problem:
            self.post_message(self.Failed("mail-form", problem))
            return
        self.post_message(self.Listed(page))

    @work(exclusive=True, group="mail-list", exit_on_error=False)
    async def delete_all(self) -> None:
        try:
            await self.acctkit.mail.delete_all()
        except ApiProblem as problem:
            self.post_message(self.Failed("mail-form", problem))
            return
        self.post_message(self.Listed(MailPage(0, 0, ())))
