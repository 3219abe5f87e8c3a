"""Form pieces: a labelled input that carries its own error line, and a status line per form,
so a problem document's `errors` land next to the fields they are about and `detail` under the
form, as Posting does in its modals."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static

from tui.client import ApiProblem


class InOrderInput(Input):
    """An Input whose own keys (Backspace, Delete, arrows, Home/End, Ctrl+U, Ctrl+W, Enter) act
    in the order they were typed. Textual runs a widget's plain bindings only once the key has
    bubbled up to the app, while letters are inserted at once: in a burst (tmux send-keys, a
    password manager's auto-type, a paste of keystrokes) "abc<BS>d" gave "abc" and "<C-u>new"
    an empty field. The app's Tab binding has the same cause and its own fix."""

    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable:
            for binding in self._bindings.key_to_bindings.get(event.key, ()):
                if not binding.priority and await self.app.run_action(binding.action, self):
                    event.stop()
                    event.prevent_default()
                    return
        await super()._on_key(event)


class Field(Vertical):
    """A labelled input; `error` shows under it (and styles the input) until cleared."""

    def __init__(
        self,
        label: str,
        field_name: str,
        *,
        password: bool = False,
        placeholder: str = "",
        value: str = "",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, classes="field")
        self.label = label
        self.field_name = field_name
        self._password = password
        self._placeholder = placeholder
        self._initial = value

    def compose(self) -> ComposeResult:
        # One row per field (label beside a compact input): a whole form fits 80x24.
        with Horizontal(classes="field-row"):
            yield Label(self.label, classes="field-label")
            yield InOrderInput(
                self._initial,
                placeholder=self._placeholder,
                password=self._password,
                id=f"{self.id}-input" if self.id else None,
                compact=True,
            )
        yield Static("", classes="field-error", markup=False)

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def value(self) -> str:
        return self.input.value

    @value.setter
    def value(self, text: str) -> None:
        self.input.value = text

    @property
    def error(self) -> str:
        return str(self.query_one(".field-error", Static).content)

    @error.setter
    def error(self, text: str) -> None:
        self.query_one(".field-error", Static).update(text)
        self.set_class(bool(text), "-invalid")


class FormStatus(Static):
    """One line under a form: what the last action did, or the problem it met."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__("", id=id, classes="form-status", markup=False)

    @property
    def text(self) -> str:
        return str(self.content)

    def ok(self, text: str) -> None:
        self.update(text)
        self.set_class(False, "-error")
        self.set_class(True, "-ok")

    def info(self, text: str) -> None:
        self.update(text)
        self.set_class(False, "-error")
        self.set_class(False, "-ok")

    def problem(self, problem: ApiProblem) -> None:
        self.update(describe(problem))
        self.set_class(False, "-ok")
        self.set_class(True, "-error")


def describe(problem: ApiProblem) -> str:
    """The sentence a person reads, with the machine code a developer greps for."""
    if problem.status == 0:
        # a transport failure, or a problem found before sending (an unreadable file)
        return f"Unreachable: {problem.detail}" if problem.code == "unreachable" else problem.detail
    return f"{problem.detail} [{problem.status} {problem.code}]"


def show_problem(fields: list[Field], status: FormStatus, problem: ApiProblem) -> None:
    """Put each field error next to its field; errors about unknown fields join the detail."""
    by_name = {f.field_name: f for f in fields}
    for f in fields:
        f.error = ""
    stray: list[str] = []
    for name, messages in problem.errors.items():
        text = " ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
        if name in by_name:
            by_name[name].error = text
        else:
            stray.append(f"{name}: {text}")
    status.problem(problem)
    if stray:
        status.update(f"{status.text} {'; '.join(stray)}")


def clear_errors(fields: list[Field]) -> None:
    for f in fields:
        f.error = ""
