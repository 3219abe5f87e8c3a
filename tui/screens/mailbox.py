"""The live mailbox: devmail's websocket keeps the list current; a selected mail shows its whole
text, codes and links, and `u` hands the newest current code of the waiting flow to that flow (or,
when nothing waits, the selected mail's: that resumes a signup started before a restart)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from contract.mailpit import ChaosTriggers
from tui.chaos import describe, next_preset
from tui.client import ApiProblem, MailEvent, MailMessage, MailPage, MailSummary
from tui.mail_life import carries_secret, clock, expires_at, what
from tui.screens.flow import FlowPane, Waiting
from tui.widgets.form import FormStatus
from tui.widgets.mail_table import MAX_MAILS, MailTable

RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 10.0


class MailboxPane(FlowPane):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "use_code", "Use code"),
        Binding("t", "trace", "Trace"),
        Binding("r", "reload", "Reload"),
        Binding("x", "delete_all", "Delete all"),
        Binding("c", "chaos", "Chaos"),
    ]

    class Listed(Message):
        def __init__(self, page: MailPage, note: str = "") -> None:
            super().__init__()
            self.page = page
            self.note = note  # what this TUI just did to the list, said under it

    class Changed(Message):
        def __init__(self, event: MailEvent) -> None:
            super().__init__()
            self.event = event

    class Disconnected(Message):
        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    class ChaosIs(Message):
        def __init__(self, triggers: ChaosTriggers, changed: bool = False) -> None:
            super().__init__()
            self.triggers = triggers
            self.changed = changed  # this TUI just set it: say so under the list

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
        self._shown_state = ""
        self.chaos: ChaosTriggers | None = None  # as devmail last said; None until it did

    def compose(self) -> ComposeResult:
        with Horizontal(classes="buttons", id="mail-toolbar"):
            yield Button("Use code", variant="primary", id="mail-use", compact=True)
            yield Button("Reload", id="mail-reload", compact=True)
            yield Button("Delete all", variant="error", id="mail-delete-all", compact=True)
            yield Button("Chaos: ?", id="mail-chaos", compact=True)
            yield Static("connecting…", id="mail-connection", markup=False)
        with Vertical(id="mail-form", classes="form"):
            yield MailTable(id="mail-table")
            yield FormStatus(id="mail-status")
            with VerticalScroll(id="mail-detail-scroll"):
                yield Static("Select a message.", id="mail-detail", markup=False)

    @property
    def table(self) -> MailTable:
        return self.query_one(MailTable)

    def on_mount(self) -> None:
        self.follow()
        self.set_interval(1, self._restate_detail)

    def _restate_detail(self) -> None:
        """The shown mail expired, or this TUI just used its code: say so in the detail too."""
        if self.shown is None:
            return
        latest = self.table.mails.get(self.shown.summary.id)
        if latest is not None and self.table.life(latest).state != self._shown_state:
            self._render_detail(self.shown, latest)

    # --- the event stream --------------------------------------------------------------------

    @work(exclusive=True, group="mail-events", exit_on_error=False)
    async def follow(self) -> None:
        """Subscribe first, then list, so nothing that arrives in between is missed; reconnect
        with backoff when devmail goes away (it is a dev tool: it gets restarted)."""
        mail = self.acctkit.mail
        delay = RECONNECT_FIRST_SECONDS
        while True:
            try:
                async for event in mail.events():
                    if event.type == "connected":
                        self.post_message(self.Listed(await mail.messages()))
                        delay = RECONNECT_FIRST_SECONDS
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
        self._forget_gone()
        if message.note:
            self.status("mail-form").ok(message.note)
        self.read_chaos()  # (re)connected: devmail may have restarted, or been told by others

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
        if self._forget_gone():
            return
        if self.shown is not None and self.shown.summary.id == event.summary.id:
            self._render_detail(self.shown, self.table.mails.get(event.summary.id))

    def _forget_gone(self) -> bool:
        """The shown mail was deleted (here, or by another client): clear its detail."""
        if self.shown is None or self.shown.summary.id in self.table.mails:
            return False
        self.shown = None
        self._wanted = None
        self._shown_state = ""
        self.query_one("#mail-detail", Static).update("Select a message.")
        return True

    def on_mailbox_pane_disconnected(self, message: Disconnected) -> None:
        message.stop()
        self.live = False
        # The toolbar has a few words of room at 80 columns; the why is the tooltip (and the
        # health banner says which service is down, and since when).
        self._connection("offline (retrying)")
        self.query_one("#mail-connection", Static).tooltip = message.reason

    def _count(self) -> None:
        count = len(self.table.mails)
        # The list keeps the newest MAX_MAILS; a count stuck at it would claim devmail held
        # no more. Kept short, so it shows whole at 80 columns; the address is its tooltip.
        shown = f"newest {count} shown" if count >= MAX_MAILS else f"{count} mail(s)"
        self._connection(f"live: {shown}")
        self.query_one("#mail-connection", Static).tooltip = self.acctkit.mail.base_url

    def _connection(self, text: str) -> None:
        self.query_one("#mail-connection", Static).update(text)

    # --- chaos: devmail's SMTP faults on demand ------------------------------------------------

    @on(Button.Pressed, "#mail-chaos")
    def action_chaos(self) -> None:
        """Switch to the next preset (off → Sender 451 50% → Data 451 100% → off)."""
        if self.chaos is None:
            self.status("mail-form").info("devmail has not said its chaos state yet.")
            return
        name, triggers = next_preset(self.chaos)
        self.status("mail-form").info(f"Setting devmail's chaos to {name}…")
        self.set_chaos(triggers)

    @work(exclusive=True, group="chaos", exit_on_error=False)
    async def read_chaos(self) -> None:
        try:
            triggers = await self.acctkit.mail.chaos(background=True)
        except ApiProblem as problem:
            self.post_message(self.Failed("mail-form", problem))
            return
        self.post_message(self.ChaosIs(triggers))

    @work(exclusive=True, group="chaos", exit_on_error=False)
    async def set_chaos(self, triggers: ChaosTriggers) -> None:
        try:
            now = await self.acctkit.mail.set_chaos(triggers)
        except ApiProblem as problem:
            self.post_message(self.Failed("mail-form", problem))
            return
        self.post_message(self.ChaosIs(now, changed=True))

    def on_mailbox_pane_chaos_is(self, message: ChaosIs) -> None:
        message.stop()
        self.chaos = message.triggers
        shown = describe(message.triggers)
        button = self.query_one("#mail-chaos", Button)
        button.label = f"Chaos: {shown}"
        button.variant = "default" if shown == "off" else "warning"
        button.refresh(layout=True)  # as wide as its new label (a label change alone keeps it)
        if message.changed and shown == "off":
            self.status("mail-form").ok("devmail's chaos is off: SMTP takes every mail.")
        elif message.changed:
            self.status("mail-form").ok(f"devmail's chaos is on: {shown} of SMTP commands fail.")

    # --- one message -------------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#mail-table")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is None or (self.shown is not None and self.shown.summary.id == key):
            return
        self._wanted = key
        self.open(key)  # the client caches opened mail: a highlight GETs a message once

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
        life = self.table.life(summary)
        self._shown_state = life.state
        state = life.text or "-"
        if life.state == "superseded" and life.by is not None:
            by = life.by
            number = f"code #{by.ref_seq}" if by.ref_seq is not None else "a newer mail"
            state = f"superseded by {number} ({clock(by.created)})"
        elif life.state in ("current", "expired"):
            until = self.table.lives.stated_expiry(summary) or expires_at(
                summary, message.text, message.headers
            )
            verb = "expired" if life.state == "expired" else "current, expires"
            state = f"{verb} {clock(until)}"
        seq = f"#{summary.ref_seq}" if summary.ref_seq is not None else "-"
        lines = [
            f"From:    {summary.from_}",
            f"To:      {summary.to_text}",
            f"Subject: {summary.subject}",
            f"Date:    {clock(summary.created)}   ID: {summary.id}",
            f"Flow:    {summary.flow or '-'}   Ref: {summary.ref or '-'}   Seq: {seq}",
            f"Code:    {what(summary) or '-'}   State: {state}",
        ]
        if summary.request_id:
            lines.append(f"Request: {summary.request_id}   (t traces it)")
        if summary.parts_mismatch:
            lines.append("PARTS MISMATCH: the text and HTML parts carry different codes or links")
        if summary.links:
            lines.append("Links:")
            lines += [f"  [{n}] {link}" for n, link in enumerate(summary.links, 1)]
        lines += ["", message.text.rstrip() or "(no text part)"]
        self.query_one("#mail-detail", Static).update("\n".join(lines))

    # --- actions -----------------------------------------------------------------------------

    @on(Button.Pressed, "#mail-use")
    def action_use_code(self) -> None:
        """The newest current mail of the flow that waits, not the (maybe old) selected row;
        with nothing waiting, the selected mail, which resumes its flow."""
        status = self.status("mail-form")
        selected = self.table.selected
        waits = self.acctkit.waiting()
        if (
            selected is not None
            and carries_secret(selected)
            and selected.flow not in {w.flow for w in waits}
        ):
            where = self.acctkit.use_mail(selected)
            status.ok(f"{self._label_of(selected)} (selected) is in {where}.")
        elif waits:
            self._serve(waits, selected, status)
        elif selected is not None:
            status.info(f"Mail {selected.id} carries no code or link.")
        else:
            status.info("No flow waits for a code and no mail is selected.")

    def _serve(
        self, waits: list[Waiting], selected: MailSummary | None, status: FormStatus
    ) -> None:
        for wait in waits:
            mail = self.table.newest(lambda m, w=wait: self._serves(m, w))
            if mail is None:
                continue
            self.table.select(mail.id)
            where = self.acctkit.use_mail(mail)
            note = "" if selected is None or selected.id == mail.id else ", not the selected one"
            status.ok(f"{self._label_of(mail)}: the newest current mail{note}, is in {where}.")
            return
        wanted = "; ".join(self._wait_text(w) for w in waits)
        status.info(
            f"No current mail for what waits ({wanted}): nothing taken. "
            "(To use another signup's mail, press Start over in Sign up first.)"
        )

    def _serves(self, mail: MailSummary, wait: Waiting) -> bool:
        if mail.flow != wait.flow or not carries_secret(mail):
            return False
        if wait.ref is not None and mail.ref != wait.ref:
            return False
        if wait.to is not None and wait.to.casefold() not in mail.to_text.casefold():
            return False
        return self.table.life(mail).state == "current"

    @staticmethod
    def _label_of(mail: MailSummary) -> str:
        seq = f" #{mail.ref_seq}" if mail.ref_seq is not None else ""
        kind = "link" if not mail.codes else f"code{seq} {mail.codes[0]}"
        return f"{mail.flow or 'mail'} {kind}"

    @staticmethod
    def _wait_text(wait: Waiting) -> str:
        target = wait.ref or wait.to or "any"
        return f"{wait.flow} {target}"

    def action_trace(self) -> None:
        selected = self.table.selected
        if selected is None:
            self.status("mail-form").info("No message is selected.")
            return
        self.acctkit.show_trace_of_mail(selected)

    @on(Button.Pressed, "#mail-reload")
    def action_reload(self) -> None:
        self.reload()
        self.read_chaos()

    @on(Button.Pressed, "#mail-delete-all")
    def action_delete_all(self) -> None:
        self.status("mail-form").info("Deleting every mail…")
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
        self.post_message(self.Listed(MailPage(0, 0, ()), "Deleted every mail in devmail."))
