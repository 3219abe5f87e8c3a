"""The mailbox list: one row per mail telling the code's life at a glance (flow, #seq, the code or
"link", current / superseded by #n / expired / used, recipient, age), the mails of one ref grouped
under their newest: "the emailed code is invalid" is most often "a newer mail replaced it"."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from rich.text import Text
from textual.timer import Timer
from textual.widgets import DataTable

from tui.client import MailSummary
from tui.mail_life import Life, Lives, what

COLUMNS = (
    ("flow", "flow", 12),
    ("seq", "#", 3),
    ("code", "code", 7),
    ("state", "state", 16),
    ("to", "to", 20),
    ("age", "age", 4),
)
SUPERSEDED = "superseded"
STYLES = {
    "current": "bold",
    "superseded": "strike dim red",
    "expired": "dim yellow",
    "used": "dim green",
    "": "",
}
STATE_STYLES = {**STYLES, "superseded": "bold red", "expired": "yellow", "used": "green"}
FLOW_NAMES = {"password-reset": "reset", "password-changed": "pw-changed"}
# The newest mails the list keeps: a test suite that sends thousands while the TUI is open must
# not make every redraw slower (1,000 mails in a burst froze the TUI for 80 s).
MAX_MAILS = 300
# Every event redraws at once, up to REDRAWS_AT_ONCE within a second; past that (a burst) the
# list is redrawn at most every REDRAW_EVERY seconds until the burst is over.
REDRAWS_AT_ONCE = 20
REDRAW_EVERY = 0.25


def age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _fit(text: str, state: str) -> str:
    """The state as its column can show it. Cut at the column's width, "superseded by #20" read
    "superseded by #2" (another mail of the same ref) and "superseded by the 20:31:02 mail"
    read "superseded by th"; it drops "by " first, then keeps only the state."""
    width = next(w for key, _, w in COLUMNS if key == "state")
    for candidate in (text, text.replace(" by ", " ", 1)):
        if len(candidate) <= width:
            return candidate
    return state


def _stamp(mail: MailSummary) -> tuple[float, int]:
    return (mail.created.timestamp() if mail.created else 0.0, mail.seq)


class MailTable(DataTable[Text]):
    """Rows keyed by message ID; `upsert`/`remove` follow the websocket events. The cursor follows
    the newest mail while it sits on the top row; once a person moves it down, it stays put."""

    def __init__(self, id: str | None = None, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.mails: dict[str, MailSummary] = {}
        self.lives = Lives()
        self._now = now
        self._states: dict[str, str] = {}  # each mail's state at the last redraw
        self._ages: dict[str, str] = {}  # each row's age text on screen
        self._drawn: deque[float] = deque(maxlen=REDRAWS_AT_ONCE)  # the last redraws' times
        self.redraws = 0  # how many times every row was rebuilt
        self._pending: Timer | None = None  # a redraw that waits for REDRAW_EVERY

    def now(self) -> datetime:
        if self._now is not None:
            return self._now()
        clock = getattr(self.app, "now", None)
        return clock() if callable(clock) else datetime.now(UTC)

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)
        self.set_interval(1, self.tick)

    def life(self, mail: MailSummary) -> Life:
        return self.lives.life(mail, self.mails, self.now())

    def upsert(self, mail: MailSummary) -> None:
        self.mails[mail.id] = mail
        if len(self.mails) > MAX_MAILS:
            del self.mails[min(self.mails.values(), key=_stamp).id]
        self._changed()

    def replace_all(self, mails: tuple[MailSummary, ...]) -> None:
        newest = sorted(mails, key=_stamp, reverse=True)[:MAX_MAILS]
        self.mails = {m.id: m for m in newest}
        self._changed()

    def remove(self, mail_id: str) -> None:
        if self.mails.pop(mail_id, None) is not None:
            self._changed()

    def mark_used(self, ref: str | None, secret: str) -> None:
        self.lives.mark_used(ref, secret)
        self._changed()

    def state_expiry(self, ref: str, seq: int, until: datetime) -> None:
        """What the service answered about a code it mailed: its mail expires then."""
        self.lives.state_expiry(ref, seq, until)
        self._changed()

    def _changed(self) -> None:
        """Redraw now, unless a burst is under way: a redraw rebuilds every row, and doing it
        for every event of a burst made the TUI fall ever further behind."""
        now = time.monotonic()
        drawn = self._drawn
        if len(drawn) < REDRAWS_AT_ONCE or now - drawn[0] >= 1.0:
            self._redraw()
        elif self._pending is None:
            self._pending = self.set_timer(max(0.0, drawn[-1] + REDRAW_EVERY - now), self._redraw)

    def ordered(self) -> list[MailSummary]:
        """Newest group first (a group is one ref, or one mail without a ref), each group newest
        first, so a resend sits right above the code it killed."""
        groups: dict[str, list[MailSummary]] = {}
        for mail in self.mails.values():
            groups.setdefault(mail.ref or f"mail:{mail.id}", []).append(mail)
        for members in groups.values():
            members.sort(key=_stamp, reverse=True)
        return [
            m
            for members in sorted(groups.values(), key=lambda g: _stamp(g[0]), reverse=True)
            for m in members
        ]

    def newest(self, test: Callable[[MailSummary], bool]) -> MailSummary | None:
        found = [m for m in self.mails.values() if test(m)]
        return max(found, key=_stamp) if found else None

    @property
    def selected(self) -> MailSummary | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.mails.get(key) if key else None

    def select(self, mail_id: str) -> None:
        if self._pending is not None:
            self._redraw()  # its row may not be drawn yet
        if mail_id in self.mails:
            self.move_cursor(row=self.get_row_index(mail_id))

    def _cells(self, mail: MailSummary, place: str) -> list[Text]:
        life = self.life(mail)
        style = STYLES[life.state] if (mail.read or life.state != "current") else "bold"
        flow = FLOW_NAMES.get(mail.flow or "", mail.flow or "-")
        gutter = {"first": "", "middle": " ├ ", "last": " └ "}[place]
        to = mail.to_text if len(mail.to_text) <= 20 else mail.to_text[:19] + "…"
        created = mail.created
        return [
            Text(gutter + flow if gutter else flow, style="dim" if gutter else style),
            Text("" if mail.ref_seq is None else f"#{mail.ref_seq}", style=style),
            Text(what(mail), style=style)
            + (Text("≠", style="bold red") if mail.parts_mismatch else Text("")),
            Text(
                _fit(life.text or ("read" if mail.read else "new"), life.state),
                style=STATE_STYLES[life.state],
            ),
            Text(to, style=style),
            Text(age((self.now() - created).total_seconds()) if created else "?", style="dim"),
        ]

    def _redraw(self) -> None:
        """Rebuild in order, keeping the cursor on the same message, or on the newest one when it
        was on the newest before (tables only append)."""
        if self._pending is not None:
            self._pending.stop()
            self._pending = None
        self._drawn.append(time.monotonic())
        self.redraws += 1
        current = self.selected
        following = current is None or self.cursor_row == 0
        self.clear()
        ordered = self.ordered()
        self._states = {m.id: self.life(m).state for m in ordered}
        self._ages = {}
        for index, mail in enumerate(ordered):
            same_before = index > 0 and ordered[index - 1].ref == mail.ref and mail.ref
            same_after = (
                index + 1 < len(ordered) and ordered[index + 1].ref == mail.ref and mail.ref
            )
            place = "first" if not same_before else ("middle" if same_after else "last")
            cells = self._cells(mail, place)
            self._ages[mail.id] = cells[5].plain
            self.add_row(*cells, key=mail.id)
        if not ordered:
            return
        if following:
            self.move_cursor(row=0)  # the newest group's newest mail
        elif current is not None and current.id in self.mails:
            self.move_cursor(row=self.get_row_index(current.id))

    def tick(self) -> None:
        """Ages grow and codes expire while nobody touches the mailbox: a changed state restyles
        the whole row (a full redraw), otherwise only the age cells change."""
        if not self.mails:
            return
        states = {m.id: self.life(m).state for m in self.mails.values()}
        if states != self._states:
            self._redraw()
            return
        now = self.now()
        for mail in self.mails.values():
            if mail.created is None:
                continue
            text = age((now - mail.created).total_seconds())
            if self._ages.get(mail.id) != text:  # most ages change once a minute or less
                self._ages[mail.id] = text
                self.update_cell(mail.id, "age", Text(text, style="dim"))
