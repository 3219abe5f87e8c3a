"""What every flow pane shares: access to the app's clients, and one way problems reach forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input
from textual.worker import Worker, WorkerState

from tui.client import ApiProblem
from tui.widgets.form import Field, FormStatus, clear_errors, show_problem

if TYPE_CHECKING:
    from tui.app import AcctkitApp


@dataclass(frozen=True)
class Waiting:
    """A flow that waits for a mailed code or link: which one, for which ref or address, since
    when. The mailbox's `u` serves the newest waiting flow, not whatever row is selected."""

    flow: str
    ref: str | None = None
    to: str | None = None
    since: datetime = field(default_factory=lambda: datetime.now(UTC))


class SessionChanged(Message):
    """The login changed (logged in, refreshed, logged out): the app redraws what depends on it.
    A new login opens the Me tab; new tokens for the same login (a password change) leave the
    person on the form that says what happened."""

    def __init__(self, show_me: bool = True) -> None:
        super().__init__()
        self.show_me = show_me


class FlowPane(VerticalScroll):
    """A tab holding one flow's forms. A form is a container with Fields and one FormStatus;
    workers post `Failed(form_id, problem)` and the problem lands on that form."""

    class Failed(Message):
        def __init__(self, form: str, problem: ApiProblem) -> None:
            super().__init__()
            self.form = form
            self.problem = problem

    waiting: Waiting | None = None

    @property
    def acctkit(self) -> AcctkitApp:
        return cast("AcctkitApp", self.app)

    def fields(self, form: str) -> list[Field]:
        return list(self.query_one(f"#{form}").query(Field))

    def status(self, form: str) -> FormStatus:
        return self.query_one(f"#{form}").query_one(FormStatus)

    def values(self, form: str) -> dict[str, str]:
        return {f.field_name: f.value for f in self.fields(form)}

    def begin(self, form: str, text: str) -> None:
        """Clear the last outcome before a request, so an old error is never read as new."""
        clear_errors(self.fields(form))
        self.status(form).info(text)

    def on_flow_pane_failed(self, message: Failed) -> None:
        message.stop()
        if message.problem.status == 0:
            self.acctkit.check_health_now()  # the banner then says what is down, and when back
        show_problem(self.fields(message.form), self.status(message.form), message.problem)
        self.failed(message.form, message.problem)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a field presses the primary button of that field's own form, nothing else."""
        event.stop()
        form = next((a for a in event.input.ancestors if a.has_class("form")), None)
        if form is None:
            return
        first = next(iter(form.query("Button.-primary").results(Button)), None)
        if first is not None and not first.disabled:
            first.press()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.acctkit.worker_failed(event.worker)

    def failed(self, form: str, problem: ApiProblem) -> None:
        """Hook for panes that react to particular codes (countdowns, attempts left)."""
