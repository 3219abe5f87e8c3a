"""The mailbox list: newest first, and a superseded mail is struck through and says so, because
"the emailed code is invalid" is most often "that code was replaced by a newer mail"."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import DataTable

from tui.api import MailSummary

COLUMNS = ("time", "to", "subject", "flow", "ref", "seq", "codes", "state")
SUPERSEDED = "SUPERSEDED"


def _time(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%H:%M:%S") if moment else "?"


def state_of(mail: MailSummary) -> str:
    if mail.superseded:
        return f"{SUPERSEDED} by {mail.superseded_by}" if mail.superseded_by else SUPERSEDED
    return "read" if mail.read else "new"


class MailTable(DataTable[Text]):
    """Rows keyed by message ID; `upsert`/`remove` follow the websocket events."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.mails: dict[str, MailSummary] = {}

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

    def upsert(self, mail: MailSummary) -> None:
        self.mails[mail.id] = mail
        self._redraw()

    def replace_all(self, mails: tuple[MailSummary, ...]) -> None:
        self.mails = {m.id: m for m in mails}
        self._redraw()

    def remove(self, mail_id: str) -> None:
        if self.mails.pop(mail_id, None) is not None:
            self._redraw()

    def ordered(self) -> list[MailSummary]:
        return sorted(
            self.mails.values(),
            key=lambda m: (m.created or datetime.min.replace(tzinfo=UTC), m.seq),
            reverse=True,
        )

    @property
    def selected(self) -> MailSummary | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.mails.get(key) if key else None

    def _redraw(self) -> None:
        """Rebuild in order, keeping the cursor on the same message (tables only append)."""
        current = self.selected
        self.clear()
        for mail in self.ordered():
            style = "strike dim red" if mail.superseded else ("" if mail.read else "bold")
            cells = [
                _time(mail.created),
                mail.to_text,
                mail.subject,
                mail.flow or "",
                mail.ref or "",
                "" if mail.ref_seq is None else f"#{mail.ref_seq}",
                " ".join(mail.codes),
            ]
            row = [Text(c, style=style) for c in cells]
            row.append(Text(state_of(mail), style="bold red" if mail.superseded else style))
            self.add_row(*row, key=mail.id)
        if current is not None and current.id in self.mails:
            self.move_cursor(row=self.get_row_index(current.id))
