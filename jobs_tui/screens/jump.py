"""The jump prompt (`:`): type a job id, enter opens it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class JumpScreen(ModalScreen[int | None]):
    """Dismisses with the id typed, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="jump.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="jump-dialog"):
            yield Static("Open job", id="jump-title")
            field = Input(placeholder="job id, e.g. 1234", type="integer", id="jump-input")
            if self.app.is_headless:
                field.cursor_blink = False
            yield field

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip().lstrip("#")
        self.dismiss(int(text) if text.isdigit() else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
