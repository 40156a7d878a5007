"""How a job becomes a table row in the queue, archive and workers views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text

from jobs_core import Job, JobState, RunningJob, WaitInfo, WaitReason
from jobs_tui.formatting import duration, elapsed, one_line, progress_bar, timestamp
from jobs_tui.health import Health
from jobs_tui.themes import Palette
from jobs_tui.widgets.keyed_table import Cells, Column, Row

QUEUE_COLUMNS: list[Column] = [
    Column("id", "Id", 6, keep=10, right=True),
    Column("command", "Command", 12, grow=2, keep=9, most=40),
    Column("queue", "Queue", 8, grow=1, keep=4, most=20),
    Column("priority", "Pri", 3, keep=3, right=True),
    Column("state", "State", 9, keep=8),
    Column("progress", "Progress", 15, keep=6),
    Column("status", "Status", 18, grow=4, keep=7),
    Column("elapsed", "Elapsed", 7, keep=5),
    Column("attempts", "Try", 5, keep=2, right=True),
    Column("tag", "Tag", 8, grow=1, keep=1, most=24),
]
"""The queue's columns: a named worker's jobs are in the queue of its name."""

ARCHIVE_COLUMNS: list[Column] = [
    Column("id", "Id", 6, keep=10, right=True),
    Column("command", "Command", 12, grow=2, keep=9, most=40),
    Column("queue", "Queue", 8, grow=1, keep=4, most=20),
    Column("state", "State", 9, keep=8),
    Column("finished", "Finished (UTC)", 19, keep=5),
    Column("took", "Took", 6, keep=6),
    Column("attempts", "Tries", 5, keep=3, right=True),
    Column("tag", "Tag", 8, grow=1, keep=2, most=24),
    Column("batch", "Batch", 8, grow=1, keep=1, most=24),
    Column("detail", "Error / status", 20, grow=6, keep=7),
]

RUNNING_COLUMNS: list[Column] = [
    Column("id", "Id", 6, keep=10, right=True),
    Column("command", "Command", 12, grow=2, keep=9, most=40),
    Column("worker", "Worker", 8, grow=1, keep=3, most=20),
    Column("engine", "Engine", 14, grow=2, keep=4, most=40),
    Column("progress", "Progress", 15, keep=7),
    Column("status", "Status", 12, grow=3, keep=6),
    Column("elapsed", "Elapsed", 7, keep=8),
]

SORT_KEYS: dict[str, Callable[[Job], Any]] = {
    "id": lambda j: j.id,
    "command": lambda j: j.command,
    "worker": lambda j: j.worker,
    "queue": lambda j: j.queue,
    "priority": lambda j: -j.priority,
    "state": lambda j: str(j.state),
    "progress": lambda j: j.progress or 0.0,
    "status": lambda j: j.status or "",
    "elapsed": lambda j: -(j.started_date or 0),
    "attempts": lambda j: j.attempts,
    "tag": lambda j: j.tag or "",
    "batch": lambda j: j.batch_id or "",
    "finished": lambda j: j.completed_date or 0,
    "took": lambda j: took_ms(j) or 0,
    "detail": lambda j: detail_text(j),
}
"""How each column sorts (`s` cycles through them)."""


def _text(value: str | None, style: str = "") -> Text:
    """User data as plain Text, so brackets in it are never read as markup."""
    return Text(value or "", style=style, no_wrap=True, overflow="ellipsis")


def _right(value: object) -> Text:
    return Text(str(value), justify="right", no_wrap=True)


def took_ms(job: Job) -> int | None:
    if job.started_date is None or job.completed_date is None:
        return None
    return job.completed_date - job.started_date


def detail_text(job: Job) -> str:
    """The error message of a failed job, else its last status."""
    if job.error is not None:
        return job.error.message
    return job.status or ""


def tries(job: Job) -> str:
    return f"{job.attempts}/{job.retry_limit + 1}"


SHORT_REASONS = {
    WaitReason.EXPIRED: "expired",
    WaitReason.PAUSED: "queue paused",
    WaitReason.RATE_LIMITED: "rate limited",
    WaitReason.QUEUE_FULL: "queue full",
    WaitReason.WORKER_BUSY: "worker busy",
}
"""How the queue list words a flow-control reason (the job detail says it in full)."""


def waiting_for(job: Job, now: int, blocked_by: int | None, why: WaitInfo | None = None) -> str:
    """Why a queued job is not running yet, in a few words: what holds it first (a
    dependency, an expiry, a paused, full or rate-limited queue, a key at its limit), else
    its time."""
    if blocked_by is not None:
        if blocked_by < 0:  # a batch parent waits as minus the batch's number
            return f"blocked by batch {job.depends_on_batch}"
        return f"blocked by #{blocked_by}"
    reasons = why.reasons if why is not None else []
    for reason in reasons:
        if reason in SHORT_REASONS:
            return SHORT_REASONS[reason]
        if reason is WaitReason.CONCURRENCY_KEY:
            return f"waiting on key {job.concurrency_key}"
    if job.run_after > now:
        wait = duration(job.run_after - now)
        if job.attempts > 0:
            return f"retry in {wait} ({job.attempts + 1}/{job.retry_limit + 1})"
        return f"due in {wait}"
    if job.attempts > 0:
        return f"retry due ({job.attempts + 1}/{job.retry_limit + 1})"
    return "ready"


def queue_row(
    job: Job, now: int, health: Health, blocked_by: int | None, palette: Palette,
    why: WaitInfo | None = None,
) -> Row:  # fmt: skip
    """A queue row: live progress for running jobs, the reason for waiting ones."""
    cells: dict[str, object] = {
        "id": _right(job.id), "command": _text(job.command), "queue": _text(job.queue),
        "priority": _right(job.priority or ""), "attempts": _right(tries(job)),
        "tag": _text(job.tag),
    }  # fmt: skip
    if job.state is JobState.STARTED and health.orphaned(job.owner):
        cells["state"] = Text("orphaned", style=palette["error"] + " bold")
        cells["status"] = _text(f"its engine is gone: {job.owner or '?'}")
    elif job.state is JobState.STARTED:
        cells["state"] = Text("running", style=palette["accent"])
        cells["progress"] = progress_bar(job.progress)
        cells["status"] = _text(one_line(job.status, 200))
        cells["elapsed"] = elapsed(job.started_date, now)
    elif job.state is JobState.EXECUTED:
        cells["state"] = "executed"
        cells["status"] = _text("waiting for its callback or reply")
    else:
        cells["state"] = "queued"
        cells["status"] = _text(waiting_for(job, now, blocked_by, why), palette["muted"])
    return str(job.id), cells


STATE_ROLES = {
    JobState.COMPLETED: "success",
    JobState.FAILED: "error",
    JobState.CANCELLED: "warning",
}


def archive_row(job: Job, palette: Palette) -> Row:
    """A completed/failed row; the run time comes from the recorded dates."""
    cells: Cells = {
        "id": _right(job.id), "command": _text(job.command), "queue": _text(job.queue),
        "state": Text(str(job.state), style=palette[STATE_ROLES.get(job.state, "muted")]),
        "finished": timestamp(job.completed_date), "took": duration(took_ms(job)),
        "attempts": _right(job.attempts), "tag": _text(job.tag), "batch": _text(job.batch_id),
        "detail": _text(one_line(detail_text(job), 500)),
    }  # fmt: skip
    return str(job.id), cells


def running_row(job: RunningJob, now: int, health: Health, palette: Palette) -> Row:
    """A job an engine runs now, for the workers and dashboard views."""
    orphaned = health.orphaned(job.owner)
    cells: Cells = {
        "id": _right(job.id), "command": _text(job.command), "worker": _text(job.worker),
        "engine": _text(job.owner, palette["error"] if orphaned else ""),
        "progress": "" if orphaned else progress_bar(job.progress),
        "status": _text("orphaned: its engine is gone" if orphaned else one_line(job.status, 200)),
        "elapsed": "" if orphaned else elapsed(job.started_date, now),
    }  # fmt: skip
    return str(job.id), cells
