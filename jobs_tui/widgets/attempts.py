"""The attempts timeline of the job detail: one row per attempt (and requeue), keyed by its
place in the history; enter shows that attempt's own log lines."""

from __future__ import annotations

from rich.text import Text

from jobs_core import AttemptOutcome, JobAttempt
from jobs_tui.formatting import duration, timestamp
from jobs_tui.widgets.keyed_table import Cells, Column, KeyedTable

COLUMNS = [
    Column("number", "#", 3, keep=5),
    Column("outcome", "Outcome", 11, keep=10),
    Column("started", "Started (UTC)", 19, keep=3),
    Column("took", "Took", 8, keep=8),
    Column("error", "Error", 10, grow=1, keep=6),
]
"""The error takes the width left; a narrow pane (the detail at 80 columns) drops the start
time first, then the number. The engine is in the log pane's title once the attempt is
entered (it names a host)."""

STYLES = {
    AttemptOutcome.COMPLETED: "green", AttemptOutcome.RUNNING: "cyan",
    AttemptOutcome.FAILED: "red", AttemptOutcome.TIMED_OUT: "red",
    AttemptOutcome.LOST: "magenta", AttemptOutcome.CANCELLED: "yellow",
    AttemptOutcome.INTERRUPTED: "yellow", AttemptOutcome.REQUEUED: "dim",
}  # fmt: skip


def attempt_cells(attempt: JobAttempt, now_ms: int) -> Cells:
    """The cells of one attempt's row (`now_ms`: the clock, for a running one's time)."""
    label = attempt.outcome.value.replace("_", " ")
    error = f"{attempt.error.code}: {attempt.error.message}" if attempt.error else ""
    return {
        "number": str(attempt.number) if attempt.number else "-",
        "outcome": Text(label, style=STYLES.get(attempt.outcome, "")),
        "started": timestamp(attempt.started_date),
        "took": duration(_took(attempt, now_ms)),
        "error": Text(error, no_wrap=True, overflow="ellipsis"),
    }


def _took(attempt: JobAttempt, now_ms: int) -> int | None:
    """From start to end as the store's clock saw them (what the job's own "took" shows),
    else the measured duration; a running attempt's time so far."""
    started, ended = attempt.started_date, attempt.ended_date
    if started is not None and ended is not None:
        return ended - started
    if started is not None and attempt.outcome is AttemptOutcome.RUNNING:
        return max(0, now_ms - started)
    return attempt.duration_ms


class AttemptsTable(KeyedTable):
    """Every attempt of the job, oldest first; updated in place as the job runs."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)
        self.zebra_stripes = False
        self.attempts: list[JobAttempt] = []

    def show(self, attempts: list[JobAttempt], now_ms: int) -> None:
        self.attempts = attempts
        self.sync([(str(place), attempt_cells(a, now_ms)) for place, a in enumerate(attempts)])

    def selected(self) -> JobAttempt | None:
        key = self.selected_key
        return None if key is None else self.attempts[int(key)]
