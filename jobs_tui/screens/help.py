"""The `?` help screen: every key that applies where it was opened, and what it does."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

INTRO = (
    "jobs admin - durable background jobs. Keys 1-6 switch views; enter opens a job; "
    "ctrl+p lists every command."
)


class HelpScreen(ModalScreen[None]):
    """Lists (key, description) pairs gathered from the screen underneath."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = list(keys)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static("Help", id="help-title")
            yield Static(INTRO, id="help-intro")
            table: DataTable[str] = DataTable(id="help-keys", cursor_type="none")
            table.add_columns("Key", "Action")
            for key, description in self.keys:
                table.add_row(key, description)
            yield table

    def action_close(self) -> None:
        self.dismiss()
