"""The filter: one input in the query language, with completions; enter applies it, a bad
term is named under it, escape closes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from jobs_core import InvalidQueryError, JobQuery
from jobs_tui.query_suggest import QuerySuggester

HINT = (
    "state: command: tag: batch: user: created_by: ref: worker: error: args.NAME: since: "
    "before:  ·  a,b either  ·  pre* prefix  ·  -key:x excludes  ·  words search text  ·  "
    "→ completes"
)


class FilterBar(Vertical):
    """Hidden until `/` opens it; posts `Applied` with a parsed query."""

    BINDINGS = [Binding("escape", "close", "Close filter", id="filter.close")]

    class Applied(Message):
        """The operator pressed enter on a query that reads."""

        def __init__(self, query: JobQuery) -> None:
            super().__init__()
            self.query = query

    class Closed(Message):
        """The operator closed the bar; focus goes back to the table."""

    def __init__(self, known: Mapping[str, Sequence[str]], *, id: str | None = None) -> None:
        super().__init__(id=id, classes="filter-bar")
        self.known = known

    def compose(self) -> ComposeResult:
        field = Input(
            placeholder="filter: state:failed command:import* since:2h",
            suggester=QuerySuggester(self.known), id="filter-input", compact=True,
        )  # fmt: skip
        if self.app.is_headless:
            field.cursor_blink = False  # nothing may blink in snapshots
        yield field
        yield Static(HINT, id="filter-hint", markup=False)

    def set_text(self, query: JobQuery) -> None:
        self.query_one(Input).value = str(query)

    def clear(self) -> None:
        self.query_one(Input).value = ""

    def open(self) -> None:
        self.display = True
        self._hint(HINT, error=False)
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            query = JobQuery.parse(event.value)
        except InvalidQueryError as error:
            self._hint(str(error), error=True)
            return
        self._hint(HINT, error=False)
        self.post_message(self.Applied(query))

    def _hint(self, text: str, *, error: bool) -> None:
        hint = self.query_one("#filter-hint", Static)
        hint.update(text)
        hint.set_class(error, "-error")

    def action_close(self) -> None:
        self.display = False
        self.post_message(self.Closed())
