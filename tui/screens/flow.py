"""What every flow pane shares: access to the app's clients, and one way problems reach forms."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input
from textual.worker import Worker, WorkerState

from tui.api import ApiProblem
from tui.widgets.form import Field, FormStatus, clear_errors, show_problem

if TYPE_CHECKING:
    from tui.app import AcctkitApp


class SessionChanged(Message):
    """The login changed (logged in, refreshed, logged out): the app redraws what depends on it."""


class FlowPane(VerticalScroll):
    """A tab holding one flow's forms. A form is a container with Fields and one FormStatus;
    workers post `Failed(form_id, problem)` and the problem lands on that form."""

    class Failed(Message):
        def __init__(self, form: str, problem: ApiProblem) -> None:
            super().__init__()
            self.form = form
            self.problem = problem

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
        show_problem(self.fields(message.form), self.status(message.form), message.problem)
        self.failed(message.form, message.problem)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a field presses its form's primary button."""
        for ancestor in event.input.ancestors:
            if ancestor.has_class("form"):
                buttons = ancestor.query("Button.-primary").results(Button)
                first = next(iter(buttons), None)
                if first is not None and not first.disabled:
                    event.stop()
                    first.press()
                return

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.acctkit.worker_failed(event.worker)

    def failed(self, form: str, problem: ApiProblem) -> None:
        """Hook for panes that react to particular codes (countdowns, attempts left)."""
