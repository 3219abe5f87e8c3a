"""Every HTTP exchange with either service, in order; a selected one shows its masked bodies."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from tui.api import LOG_SIZE, Exchange
from tui.screens.flow import FlowPane

COLUMNS = ("#", "time", "svc", "method", "path", "status", "ms", "request id")


def status_text(exchange: Exchange) -> Text:
    if exchange.status is None:
        return Text("ERR", style="bold red")
    style = "red" if exchange.status >= 500 else "yellow" if exchange.status >= 400 else "green"
    return Text(str(exchange.status), style=style)


class ExchangeTable(DataTable[object]):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.exchanges: dict[str, Exchange] = {}

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

    def append(self, exchange: Exchange) -> None:
        key = str(exchange.id)
        if key in self.exchanges:
            return
        self.exchanges[key] = exchange
        self.add_row(
            exchange.id,
            exchange.started.astimezone().strftime("%H:%M:%S"),
            exchange.service,
            exchange.method,
            exchange.path,
            status_text(exchange),
            f"{exchange.duration_ms:.0f}",
            exchange.request_id,
            key=key,
        )
        while self.row_count > LOG_SIZE:
            oldest = next(iter(self.exchanges))
            del self.exchanges[oldest]
            self.remove_row(oldest)
        if self.cursor_row >= self.row_count - 2:
            self.move_cursor(row=self.row_count - 1)

    def clear_all(self) -> None:
        self.exchanges.clear()
        self.clear()


def detail_text(exchange: Exchange) -> str:
    status = exchange.status if exchange.status is not None else f"no response ({exchange.error})"
    return "\n".join(
        [
            f"{exchange.method} {exchange.url}",
            f"status {status}, {exchange.duration_ms:.1f} ms, request id {exchange.request_id}",
            "",
            "request body:",
            exchange.request_body or "(none)",
            "",
            "response body:",
            exchange.response_body or "(none)",
        ]
    )


class HttpLogPane(FlowPane):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("c", "clear_log", "Clear log")]

    class Recorded(Message):
        def __init__(self, exchange: Exchange) -> None:
            super().__init__()
            self.exchange = exchange

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="log-form"):
            yield ExchangeTable(id="log-table")
            yield Static(
                "Select an exchange to see its bodies (secrets masked).",
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

    def on_http_log_pane_recorded(self, message: Recorded) -> None:
        message.stop()
        self.table.append(message.exchange)

    @on(DataTable.RowHighlighted, "#log-table")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        exchange = self.table.exchanges.get(event.row_key.value or "")
        if exchange is not None:
            self.query_one("#log-detail", Static).update(detail_text(exchange))

    def action_clear_log(self) -> None:
        self.table.clear_all()
        self.query_one("#log-detail", Static).update("")
