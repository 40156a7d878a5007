"""How a job becomes a table row in the queue and archive views."""

from __future__ import annotations

from rich.text import Text

from jobs_core import Job, RunningJob
from jobs_tui.formatting import duration, elapsed, one_line, progress_bar, relative, timestamp
from jobs_tui.widgets.keyed_table import Column, Row

QUEUE_COLUMNS: list[Column] = [
    ("id", "Id", 7),
    ("command", "Command", 16),
    ("worker", "Worker", 9),
    ("state", "State", 9),
    ("progress", "Progress", 15),
    ("status", "Status", 20),
    ("elapsed", "Elapsed", 8),
    ("due", "Due", 9),
    ("attempts", "Tries", 5),
]

ARCHIVE_COLUMNS: list[Column] = [
    ("id", "Id", 7),
    ("command", "Command", 14),
    ("state", "State", 9),
    ("finished", "Finished (UTC)", 19),
    ("took", "Took", 7),
    ("attempts", "Tries", 5),
    ("tag", "Tag", 8),
    ("batch", "Batch", 8),
    ("detail", "Error / status", 20),
]

RUNNING_COLUMNS: list[Column] = [
    ("id", "Id", 7),
    ("command", "Command", 16),
    ("worker", "Worker", 9),
    ("engine", "Engine", 22),
    ("progress", "Progress", 15),
    ("status", "Status", 22),
    ("elapsed", "Elapsed", 8),
]


def _text(value: str | None) -> Text:
    """User data as plain Text, so brackets in it are never read as markup."""
    return Text(value or "", no_wrap=True, overflow="ellipsis")


def _right(value: object) -> Text:
    return Text(str(value), justify="right")


def queue_row(job: Job, now: int) -> Row:
    """A queue row: live progress, status and elapsed time."""
    due = relative(job.run_after, now) if job.started_date is None else ""
    cells = (
        _right(job.id), _text(job.command), _text(job.worker), str(job.state),
        progress_bar(job.progress), _text(one_line(job.status, 40)),
        elapsed(job.started_date, now), due, _right(job.attempts),
    )  # fmt: skip
    return str(job.id), cells


def archive_row(job: Job) -> Row:
    """A completed/failed row; the run time comes from the recorded dates."""
    took = None
    if job.started_date is not None and job.completed_date is not None:
        took = job.completed_date - job.started_date
    detail = job.error.message if job.error else job.status
    cells = (
        _right(job.id), _text(job.command), str(job.state), timestamp(job.completed_date),
        duration(took), _right(job.attempts), _text(job.tag), _text(job.batch_id),
        _text(one_line(detail, 60)),
    )  # fmt: skip
    return str(job.id), cells


def running_row(job: RunningJob, now: int) -> Row:
    """A job an engine runs now, for the workers and dashboard views."""
    cells = (
        _right(job.id), _text(job.command), _text(job.worker), _text(job.owner),
        progress_bar(job.progress), _text(one_line(job.status, 40)),
        elapsed(job.started_date, now),
    )  # fmt: skip
    return str(job.id), cells
