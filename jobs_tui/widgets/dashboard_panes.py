"""Panes of the dashboard: state counts, throughput sparkline, engines, month databases."""

from __future__ import annotations

import os

from rich.text import Text
from textual.content import Content

from jobs_core import EngineInfo, JobState, MonthDatabase, RunningJob, ThroughputBucket
from jobs_tui.formatting import duration, size
from jobs_tui.widgets.keyed_table import Column, Row

STATE_STYLES = {
    JobState.QUEUED: "$text-primary",
    JobState.STARTED: "$text-accent",
    JobState.EXECUTED: "$text-accent",
    JobState.COMPLETED: "$text-success",
    JobState.FAILED: "$text-error",
    JobState.CANCELLED: "$text-warning",
}

ENGINE_COLUMNS: list[Column] = [
    ("engine", "Engine", 22),
    ("host", "Host", 12),
    ("pid", "Pid", 7),
    ("alive", "State", 6),
    ("heartbeat", "Heartbeat", 10),
    ("running", "Running", 7),
    ("processed", "Processed", 9),
    ("failed", "Failed", 6),
    ("now", "Running now", 18),
]

MONTH_COLUMNS: list[Column] = [
    ("month", "Month", 8),
    ("size", "Size", 10),
    ("file", "File", None),
]


def counts_content(counts: dict[JobState, int]) -> Content:
    """One line per state: the count right-aligned, the state name in its colour."""
    parts: list[Content] = []
    for state in JobState:
        line = Content.assemble(f"{counts.get(state, 0):>9,}  ", (str(state), STATE_STYLES[state]))
        parts.append(line)
    return Content("\n").join(parts)


def throughput_series(buckets: list[ThroughputBucket], now: int, minutes: int) -> list[float]:
    """Finished jobs per minute for the last `minutes` minutes, zeros where none finished."""
    first = now // 60_000 * 60_000 - (minutes - 1) * 60_000
    per_minute = {b.minute_start: b.completed + b.failed + b.cancelled for b in buckets}
    return [float(per_minute.get(first + i * 60_000, 0)) for i in range(minutes)]


def throughput_summary(buckets: list[ThroughputBucket], minutes: int) -> str:
    done = sum(b.completed for b in buckets)
    failed = sum(b.failed + b.cancelled for b in buckets)
    return f"Last {minutes} min: {done} completed, {failed} failed"


def engine_row(engine: EngineInfo, running: list[RunningJob], now: int) -> Row:
    """An engine with what it runs now (ids and commands of its running jobs)."""
    mine = [f"{job.id} {job.command}" for job in running if job.owner == engine.id]
    cells = (
        Text(engine.id, no_wrap=True, overflow="ellipsis"), Text(engine.host), str(engine.pid),
        "alive" if engine.alive else "dead", duration(now - engine.heartbeat_at) + " ago",
        str(engine.running), str(engine.processed), str(engine.failed),
        Text(", ".join(mine) or "-", no_wrap=True, overflow="ellipsis"),
    )  # fmt: skip
    return engine.id, cells


def month_row(month: MonthDatabase) -> Row:
    # only the file name: the directory is shown once in the title and differs per machine
    shown = "unreadable" if month.error else size(month.size_bytes)
    return month.month, (month.month, shown, Text(os.path.basename(month.path)))
