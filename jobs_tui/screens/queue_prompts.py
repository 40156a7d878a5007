"""The prompts of the queues view: a queue's concurrency (a number, or `none` for no limit)
and its rate limit (`N/WINDOW` such as `100/1m`, or `none`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from jobs_core import InvalidOptionError, RateLimit

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Limit(Generic[V]):
    """A setting the operator typed: its value, or None for no limit."""

    value: V | None


class QueueSettingScreen(ModalScreen[Limit[V] | None]):
    """Dismisses with the `Limit` typed, or None when escaped; a text `read` refuses (its
    ValueError) stays, with the reason under the field. Widget ids start with `PREFIX`."""

    PREFIX = "setting"
    WHAT = "Setting"
    PLACEHOLDER = ""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="setting.cancel")]

    def __init__(self, queue: str, current: V | None, read: Callable[[str], V]) -> None:
        super().__init__()
        self.queue = queue
        self.current = current
        self.read = read
        """The value a text other than `none` gives; ValueError saying why it gives none."""

    def compose(self) -> ComposeResult:
        with Vertical(id=f"{self.PREFIX}-dialog", classes="setting-dialog"):
            now = "no limit" if self.current is None else str(self.current)
            yield Static(
                f"{self.WHAT} of queue '{self.queue}' (now {now})",
                id=f"{self.PREFIX}-title", classes="setting-title",
            )  # fmt: skip
            field = Input(placeholder=self.PLACEHOLDER, id=f"{self.PREFIX}-input")
            if self.app.is_headless:
                field.cursor_blink = False
            yield field
            yield Static("", id=f"{self.PREFIX}-error", classes="setting-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if text.lower() == "none":
            self.dismiss(Limit(None))
            return
        try:
            value = self.read(text)
        except ValueError as refused:
            self.query_one(f"#{self.PREFIX}-error", Static).update(str(refused))
            return
        self.dismiss(Limit(value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConcurrencyScreen(QueueSettingScreen[int]):
    """Most jobs of the queue running at once: a number of 1 or more."""

    PREFIX = "concurrency"
    WHAT = "Concurrency"
    PLACEHOLDER = "a number, or none for no limit"

    def __init__(self, queue: str, current: int | None) -> None:
        super().__init__(queue, current, read_concurrency)


class RateLimitScreen(QueueSettingScreen[RateLimit]):
    """Most starts of the queue's jobs per window: `N/WINDOW` (`RateLimit.parse`)."""

    PREFIX = "rate"
    WHAT = "Rate limit"
    PLACEHOLDER = "N/WINDOW (100/1m, 10/s) or none"

    def __init__(self, queue: str, current: RateLimit | None) -> None:
        super().__init__(queue, current, read_rate_limit)


def read_concurrency(text: str) -> int:
    """A concurrency typed: a number of 1 or more."""
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise ValueError(f"'{text}' is not a number of 1 or more (or none)")


def read_rate_limit(text: str) -> RateLimit:
    """A rate limit typed: `N/WINDOW` (`RateLimit.parse`)."""
    try:
        return RateLimit.parse(text)
    except InvalidOptionError as error:
        raise ValueError(f"{error} (or none)") from None
