"""Every HTTP exchange with either service, newest followed: a filter, the selected exchange's
headers and bodies (secrets masked), and "copy as curl". The mailbox's own reads are kept but
hidden until asked for, so the requests a person caused stand out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from tui.client import LOG_SIZE, Exchange
from tui.screens.flow import FlowPane
from tui.widgets.form import InOrderInput

COLUMNS = ("#", "time", "svc", "method", "status", "ms", "path", "request id")
FILTER_HELP = "filter: me 4xx 401 err svc:devmail method:post"
_STATUS = re.compile(r"^(\d)(\d\d|xx)$")


@dataclass(frozen=True)
class LogFilter:
    """What the filter input says, parsed once: every term must match (AND)."""

    terms: tuple[str, ...] = ()
    show_background: bool = False

    @classmethod
    def parse(cls, text: str, show_background: bool = False) -> LogFilter:
        return cls(tuple(text.lower().split()), show_background)

    def matches(self, exchange: Exchange) -> bool:
        if exchange.background and not self.show_background:
            return False
        return all(_term_matches(term, exchange) for term in self.terms)


def _term_matches(term: str, exchange: Exchange) -> bool:
    key, _, value = term.partition(":")
    if value and key in ("svc", "service"):
        return exchange.service.startswith(value)
    if value and key == "method":
        return exchange.method.lower() == value
    if value and key in ("status", "s"):
        term = value
    if term == "err":
        return exchange.status is None
    status = _STATUS.match(term)
    if status is not None:
        shown = str(exchange.status) if exchange.status is not None else ""
        return shown.startswith(status.group(1)) and (status.group(2) == "xx" or shown == term)
    return term in exchange.path.lower() or term == exchange.request_id.lower()


def status_text(exchange: Exchange) -> Text:
    if exchange.status is None:
        return Text("ERR", style="bold red")
    style = "red" if exchange.status >= 500 else "yellow" if exchange.status >= 400 else "green"
    return Text(str(exchange.status), style=style)


class ExchangeTable(DataTable[object]):
    """`exchanges` holds every recorded exchange (bounded); rows show those the filter lets
    through. The cursor follows the newest row while it is on the last one; moved up, it
    stays where the person put it, and follows again once moved back to the end."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("end", "scroll_bottom", "Newest", show=False),
        Binding("home", "scroll_top", "Oldest", show=False),
    ]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.exchanges: dict[str, Exchange] = {}
        self.filter = LogFilter()

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

    @property
    def following(self) -> bool:
        """On the last row: the person has not moved away to read something older."""
        return self.cursor_row >= self.row_count - 1

    def append(self, exchange: Exchange) -> None:
        key = str(exchange.id)
        if key in self.exchanges:
            return
        self.exchanges[key] = exchange
        while len(self.exchanges) > LOG_SIZE:
            oldest = next(iter(self.exchanges))
            del self.exchanges[oldest]
            if oldest in self.rows:
                self.remove_row(oldest)
        if self.filter.matches(exchange):
            following = self.following
            self._add(exchange)
            if following:
                self.move_cursor(row=self.row_count - 1)

    def _add(self, exchange: Exchange) -> None:
        style = "dim" if exchange.background else ""
        self.add_row(
            Text(str(exchange.id), style=style),
            Text(exchange.started.astimezone().strftime("%H:%M:%S"), style=style),
            Text(exchange.service, style=style),
            Text(exchange.method, style=style),
            status_text(exchange),
            Text(f"{exchange.duration_ms:.0f}", style=style),
            Text(exchange.path, style=style),
            Text(exchange.request_id, style=style),
            key=str(exchange.id),
        )

    def apply(self, log_filter: LogFilter) -> None:
        """Show only what `log_filter` lets through; stay on the selected exchange if it still
        shows and the person had moved to it, else follow the newest."""
        selected, following = self.selected, self.following
        self.filter = log_filter
        self.clear()
        for exchange in self.exchanges.values():
            if log_filter.matches(exchange):
                self._add(exchange)
        if not following and selected is not None and str(selected.id) in self.rows:
            self.move_cursor(row=self.get_row_index(str(selected.id)))
        else:
            self.move_cursor(row=self.row_count - 1)

    @property
    def selected(self) -> Exchange | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.exchanges.get(key or "")

    def clear_all(self) -> None:
        self.exchanges.clear()
        self.clear()


def _headers(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    return [f"  {name}: {value}" for name, value in pairs] or ["  (none recorded)"]


def detail_text(exchange: Exchange) -> str:
    status = exchange.status if exchange.status is not None else f"no response ({exchange.error})"
    kind = " · mailbox read" if exchange.background else ""
    return "\n".join(
        [
            f"{exchange.method} {exchange.url}",
            f"status {status}, {exchange.duration_ms:.1f} ms, {exchange.service}{kind}, "
            f"request id {exchange.request_id}",
            "",
            "request headers:",
            *_headers(exchange.request_headers),
            "request body:",
            exchange.request_body or "(none)",
            "",
            "response headers:",
            *_headers(exchange.response_headers),
            "response body:",
            exchange.response_body or "(none)",
            "",
            "as curl (y copies it; secrets stay masked):",
            exchange.curl,
        ]
    )


class HttpLogPane(FlowPane):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "copy_curl", "Copy as curl"),
        Binding("m", "trace", "Mail it caused"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("b", "toggle_background", "Mailbox reads"),
        Binding("c", "clear_log", "Clear log"),
    ]

    class Recorded(Message):
        def __init__(self, exchange: Exchange) -> None:
            super().__init__()
            self.exchange = exchange

    def compose(self) -> ComposeResult:
        # The list comes first so it takes the focus when the tab opens (y, b, / work at once);
        # the filter is docked above it.
        yield ExchangeTable(id="log-table")
        with Horizontal(id="log-toolbar"):
            yield InOrderInput(placeholder=FILTER_HELP, id="log-filter")
            yield Static("", id="log-counts", markup=False)
        with VerticalScroll(id="log-form"):
            yield Static(
                "Select an exchange to see its headers and bodies (secrets masked).",
                id="log-detail",
                markup=False,
            )

    @property
    def table(self) -> ExchangeTable:
        return self.query_one(ExchangeTable)

    def on_mount(self) -> None:
        """Catch up on what was recorded before this pane existed (the mailbox connects early)."""
        for exchange in self.acctkit.http_log.entries:
            self.table.append(exchange)
        self._counts()

    def on_http_log_pane_recorded(self, message: Recorded) -> None:
        message.stop()
        self.table.append(message.exchange)
        self._counts()

    def _counts(self) -> None:
        table = self.table
        hidden = sum(1 for e in table.exchanges.values() if e.background)
        shown = "shown" if table.filter.show_background else "hidden (b)"
        self.query_one("#log-counts", Static).update(
            f"{table.row_count}/{len(table.exchanges)} · {hidden} mailbox reads {shown}"
        )

    @on(Input.Changed, "#log-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.table.apply(LogFilter.parse(event.value, self.table.filter.show_background))
        self._counts()

    @on(Input.Submitted, "#log-filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()  # not a form: Enter just hands the keyboard to the list
        self.table.focus()

    @on(DataTable.RowHighlighted, "#log-table")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        # After a filter change clears the table, a late event can name no row.
        key = event.row_key.value if event.row_key is not None else None
        exchange = self.table.exchanges.get(key or "")
        if exchange is not None:
            self.query_one("#log-detail", Static).update(detail_text(exchange))

    def action_focus_filter(self) -> None:
        self.query_one("#log-filter", Input).focus()

    def action_toggle_background(self) -> None:
        table = self.table
        terms = self.query_one("#log-filter", Input).value
        table.apply(LogFilter.parse(terms, not table.filter.show_background))
        self._counts()

    def action_copy_curl(self) -> None:
        exchange = self.table.selected
        if exchange is None:
            self.notify("No exchange is selected.", severity="warning")
            return
        self.app.copy_to_clipboard(exchange.curl)
        self.notify(f"Copied #{exchange.id} as curl (secrets masked).", title="HTTP log")

    def action_trace(self) -> None:
        exchange = self.table.selected
        if exchange is None:
            self.notify("No exchange is selected.", severity="warning")
            return
        self.acctkit.show_trace_of_request(exchange)

    def action_clear_log(self) -> None:
        self.table.clear_all()
        self.query_one("#log-detail", Static).update("")
        self._counts()
