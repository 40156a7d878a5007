"""A row of inputs that builds a JobFilter; enter applies it, escape closes it."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input

from jobs_core import JobFilter

FIELD_LABELS = {
    "command": "command",
    "worker": "worker",
    "tag": "tag",
    "batch_id": "batch",
    "created_by": "created by",
    "user_id": "user",
    "ref_id": "ref id",
    "text": "search text",
}
"""JobFilter field → placeholder shown in its input."""


class FilterBar(Horizontal):
    """Inputs for some JobFilter fields; hidden until `/` opens it."""

    BINDINGS = [Binding("escape", "close", "Close filter", id="filter.close")]

    class Applied(Message):
        """The operator pressed enter: show jobs matching `filter`."""

        def __init__(self, flt: JobFilter) -> None:
            super().__init__()
            self.filter = flt

    class Closed(Message):
        """The operator closed the bar; focus goes back to the table."""

    def __init__(self, fields: Sequence[str], *, id: str | None = None) -> None:
        super().__init__(id=id, classes="filter-bar")
        self.fields = list(fields)

    def compose(self) -> ComposeResult:
        for name in self.fields:
            field = Input(placeholder=FIELD_LABELS[name], id=f"filter-{name}", compact=True)
            if self.app.is_headless:
                field.cursor_blink = False  # nothing may blink in snapshots
            yield field

    def current(self) -> JobFilter:
        """The filter the inputs describe (empty inputs do not filter)."""
        values: dict[str, str] = {}
        for name in self.fields:
            text = self.query_one(f"#filter-{name}", Input).value.strip()
            if text:
                values[name] = text
        return JobFilter(**values)  # type: ignore[arg-type]

    def clear(self) -> None:
        for field in self.query(Input):
            field.value = ""

    def open(self) -> None:
        self.display = True
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Applied(self.current()))

    def action_close(self) -> None:
        self.display = False
        self.post_message(self.Closed())
