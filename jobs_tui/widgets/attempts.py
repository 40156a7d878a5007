"""The attempts timeline of the job detail: one row per attempt (and requeue), keyed by its
place in the history; enter shows that attempt's own log lines."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from jobs_core import AttemptOutcome, JobAttempt
from jobs_tui.formatting import duration, timestamp

COLUMNS = [("#", 3), ("Outcome", 11), ("Started (UTC)", 19), ("Took", 8)]
"""The columns before the error, which takes the rest of the width (`error_width`). The
engine is in the log pane's title once the attempt is entered (it names a host)."""
ERROR_COLUMN = "Error"
MIN_ERROR_WIDTH = 10
SCROLLBAR = 2
"""Columns a vertical scrollbar takes (Textual's default size)."""

STYLES = {
    AttemptOutcome.COMPLETED: "green", AttemptOutcome.RUNNING: "cyan",
    AttemptOutcome.FAILED: "red", AttemptOutcome.TIMED_OUT: "red",
    AttemptOutcome.LOST: "magenta", AttemptOutcome.CANCELLED: "yellow",
    AttemptOutcome.INTERRUPTED: "yellow", AttemptOutcome.REQUEUED: "dim",
}  # fmt: skip


def attempt_cells(attempt: JobAttempt) -> tuple[Text | str, ...]:
    """The cells of one attempt's row."""
    label = attempt.outcome.value.replace("_", " ")
    error = f"{attempt.error.code}: {attempt.error.message}" if attempt.error else ""
    return (
        str(attempt.number) if attempt.number else "-",
        Text(label, style=STYLES.get(attempt.outcome, "")), timestamp(attempt.started_date),
        duration(_took(attempt)), Text(error, no_wrap=True, overflow="ellipsis"),
    )  # fmt: skip


def _took(attempt: JobAttempt) -> int | None:
    """From start to end as the store's clock saw them (what the job's own "took" shows),
    else the measured duration."""
    if attempt.started_date is not None and attempt.ended_date is not None:
        return attempt.ended_date - attempt.started_date
    return attempt.duration_ms


class AttemptsTable(DataTable[Text | str]):
    """Every attempt of the job, oldest first; updated in place as the job runs."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.attempts: list[JobAttempt] = []
        self._error_width = 0

    def on_mount(self) -> None:
        self._columns(self.error_width(self.size.width))

    def on_resize(self, event: events.Resize) -> None:
        # The error fills the width left: a fixed one wider than the pane put a horizontal
        # scrollbar under a table of one row.
        width = self.error_width(event.size.width)
        if width != self._error_width:
            self._columns(width)
            self.show(self.attempts)

    def _columns(self, error_width: int) -> None:
        self._error_width = error_width
        self.clear(columns=True)
        for name, fixed in COLUMNS:
            self.add_column(name, width=fixed, key=name)
        self.add_column(ERROR_COLUMN, width=error_width, key=ERROR_COLUMN)

    def error_width(self, total: int) -> int:
        """The error column's width in a table `total` columns wide: what the others and
        every cell's padding leave (and a vertical scrollbar, when the rows need one)."""
        padding = 2 * self.cell_padding * (len(COLUMNS) + 1)
        used = sum(fixed for _, fixed in COLUMNS) + padding
        if self.attempts and len(self.attempts) + 1 > self.size.height:
            used += SCROLLBAR
        return max(MIN_ERROR_WIDTH, total - used)

    def show(self, attempts: list[JobAttempt]) -> None:
        cursor = self.cursor_row
        self.attempts = attempts
        self.clear()
        for place, attempt in enumerate(attempts):
            self.add_row(*attempt_cells(attempt), key=str(place))
        if attempts:
            self.move_cursor(row=min(cursor, len(attempts) - 1))

    def selected(self) -> JobAttempt | None:
        if not self.attempts or not 0 <= self.cursor_row < len(self.attempts):
            return None
        return self.attempts[self.cursor_row]
