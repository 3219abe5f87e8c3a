"""Health at a glance: what the last poll of each service's readiness route said, shown in the
header, and one banner (instead of an error on every form) while a service is down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual.widgets import Static


@dataclass(frozen=True)
class ServiceHealth:
    name: str  # "accounts" or "devmail"
    url: str
    up: bool | None  # None: not polled yet
    reason: str = ""  # why it counts as down
    since: datetime | None = None  # when it entered this state


def header_text(states: tuple[ServiceHealth, ...]) -> str:
    """Short enough for an 80-column header: "accounts ✓ up · devmail ✗ DOWN"."""
    marks = {True: "✓ up", False: "✗ DOWN", None: "… checking"}
    return " · ".join(f"{s.name} {marks[s.up]}" for s in states)


def banner_text(states: tuple[ServiceHealth, ...]) -> str:
    lines = []
    for s in states:
        if s.up is False:
            since = s.since.astimezone().strftime("%H:%M:%S") if s.since else "?"
            lines.append(
                f"{s.name} at {s.url} is down since {since} ({s.reason}); "
                "its requests fail until it is back, checked every second"
            )
    return "\n".join(lines)


class HealthBanner(Static):
    """Hidden while everything is up; takes no room at 80x24 then."""

    DEFAULT_CSS = """
    HealthBanner {
        display: none;
        height: auto;
        background: $error;
        color: $text;
        text-style: bold;
        padding: 0 1;
    }
    HealthBanner.-down {
        display: block;
    }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.states: tuple[ServiceHealth, ...] = ()

    def show(self, states: tuple[ServiceHealth, ...]) -> None:
        self.states = states
        text = banner_text(states)
        self.update(text)
        self.set_class(bool(text), "-down")
