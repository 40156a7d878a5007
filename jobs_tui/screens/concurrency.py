"""The concurrency prompt of the queues view: type a number, or `none` for no limit."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


@dataclass(frozen=True, slots=True)
class Limit:
    """A concurrency the operator typed: a number of 1 or more, or None for no limit."""

    value: int | None


class ConcurrencyScreen(ModalScreen[Limit | None]):
    """Dismisses with the `Limit` typed, or None when escaped."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="concurrency.cancel")]

    def __init__(self, queue: str, current: int | None) -> None:
        super().__init__()
        self.queue = queue
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="concurrency-dialog"):
            now = "no limit" if self.current is None else str(self.current)
            yield Static(f"Concurrency of queue '{self.queue}' (now {now})", id="concurrency-title")
            field = Input(placeholder="a number, or none for no limit", id="concurrency-input")
            if self.app.is_headless:
                field.cursor_blink = False
            yield field
            yield Static("", id="concurrency-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip().lower()
        if text == "none":
            self.dismiss(Limit(None))
            return
        if text.isdigit() and int(text) >= 1:
            self.dismiss(Limit(int(text)))
            return
        self.query_one("#concurrency-error", Static).update(
            f"'{event.value}' is not a number of 1 or more (or none)"
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
