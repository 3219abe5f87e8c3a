"""One line above the footer: who is logged in and what the last exchange was, visible from
every tab, so a failing request is noticed even while looking at the mailbox."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

from tui.client import Exchange


class StatusLine(Static):
    who: reactive[str] = reactive("not logged in")
    last: reactive[str] = reactive("no requests yet")

    def __init__(self, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)

    def _redraw(self) -> None:
        self.update(f"{self.who}  │  last: {self.last}")

    def watch_who(self) -> None:
        self._redraw()

    def watch_last(self) -> None:
        self._redraw()

    def exchange(self, exchange: Exchange) -> None:
        status = exchange.status if exchange.status is not None else "ERR"
        self.last = f"{exchange.method} {exchange.path} → {status} ({exchange.duration_ms:.0f} ms)"
