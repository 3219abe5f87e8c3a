"""The trace modal: a request and the mail it caused, or a mail, the request that caused it and
every attempt made against its ref. Read-only; Escape (or t) closes it."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.trace import Line


class TraceScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,t,m,q", "dismiss", "Close"),
    ]

    def __init__(self, title: str, lines: list[Line]) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        body = Text()
        for line in self.lines:
            body.append(line.text + "\n", style=line.style)
        with VerticalScroll(id="trace-box") as box:
            box.border_title = self.title_text
            box.border_subtitle = "esc closes"
            yield Static(body, id="trace-body")

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)
