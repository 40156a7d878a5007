"""The `jobs status` report: deterministic plain text (after the MQ status report) and JSON."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from jobs_core import (
    EngineInfo,
    EngineState,
    ExposedFile,
    JobState,
    MonthDatabase,
    QueueInfo,
    RunningJob,
    ScheduledTaskInfo,
    ThroughputBucket,
)

from .queue_report import queue_json, queue_lines

RULE = "-" * 30
STOPPED_SHOWN = 5
"""Dead or stopped engines listed in full; older ones are only counted, so the report stays
short."""
RECENT_DEATH_MS = 3_600_000
"""A dead engine is warned about if it died within this long (or still owns running jobs)."""
MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusData:
    """What the status report shows, as read from the store at `now_ms`."""

    directory: str
    now_ms: int
    counts: dict[JobState, int]
    engines: list[EngineInfo]
    running: list[RunningJob]
    months: list[MonthDatabase]
    throughput: list[ThroughputBucket]
    throughput_minutes: int
    scheduled: list[ScheduledTaskInfo] | None
    """None when the scheduling API is not available."""
    exposed: list[ExposedFile] = field(default_factory=list)
    """Store files other users can read."""
    queues: list[QueueInfo] = field(default_factory=list)
    """Every queue with jobs, settings or recent finishes."""


def format_report(data: StatusData) -> str:
    """The whole report, one section per concern, each ending with a rule."""
    sections = [_header(data)]
    if problems := warnings(data):
        sections.append([f"# WARNINGS: {len(problems)}", "", *(f"  ! {p}" for p in problems)])
    sections += [
        _counts(data),
        queue_lines(data.queues),
        _engines(data),
        _running(data),
        _months(data),
        _throughput(data),
    ]
    if data.scheduled is not None:
        sections.append(_scheduled(data.scheduled, data.now_ms))
    return "\n".join(line for section in sections for line in [*section, RULE]) + "\n"


def _header(data: StatusData) -> list[str]:
    return [f"# JOBS STATUS: {data.directory}", f"AT: {format_time(data.now_ms)}"]


def _counts(data: StatusData) -> list[str]:
    lines = ["# JOBS BY STATE:", ""]
    width = max(len(state.value) for state in JobState) + 2
    for state in JobState:
        lines.append(f"  {state.value + ':':<{width}}{data.counts.get(state, 0)}")
    lines.append(f"  {'total:':<{width}}{sum(data.counts.values())}")
    return lines


def warnings(data: StatusData) -> list[str]:
    """What needs an operator: stale engines, engines that died recently or still own
    running jobs, month files that cannot be read or written, and store files other users
    can read (with the command that fixes each)."""
    owned = Counter(job.owner for job in data.running)
    found: list[str] = []
    for e in data.engines:
        if e.state is EngineState.STALE:
            found.append(f"engine {e.id} is stale: {e.reason}")
        elif e.state is EngineState.DEAD and (
            owned[e.id] or data.now_ms - e.heartbeat_at <= RECENT_DEATH_MS
        ):
            jobs = f"; it still owns {owned[e.id]} running job(s)" if owned[e.id] else ""
            found.append(f"engine {e.id} is dead: {e.reason}{jobs}")
    found += [m.error for m in data.months if m.error]
    found += [str(f) for f in data.exposed]
    return found


def _engines(data: StatusData) -> list[str]:
    live = [e for e in data.engines if e.alive]
    gone = [e for e in data.engines if not e.alive]
    by_state = Counter(e.state for e in data.engines)
    figures = ", ".join(f"{by_state[state]} {state.value}" for state in EngineState)
    lines = [f"# ENGINES: {figures}", ""]
    if not data.engines:
        lines.append("  (no engine has run on this store)")
    shown = live + gone[:STOPPED_SHOWN]
    for number, engine in enumerate(shown, 1):
        lines.extend(_engine(number, engine, data.now_ms))
    if len(gone) > STOPPED_SHOWN:
        lines.append(f"  ({len(gone) - STOPPED_SHOWN} older dead or stopped engines not shown)")
    return lines


def _engine(number: int, e: EngineInfo, now_ms: int) -> list[str]:
    commands = ", ".join(c for c in e.commands if not c.startswith("jobs.")) or "(none)"
    return [
        f"ENGINE {number}: {e.id}",
        f"  Status:       {_engine_status(e)}",
        f"  Host:         {e.host}",
        f"  Pid:          {e.pid}",
        f"  Started:      {format_time(e.started_at)}",
        f"  Heartbeat:    {format_age(now_ms - e.heartbeat_at)} ago",
        f"  Concurrency:  {e.concurrency}",
        f"  Running:      {e.running}",
        f"  Processed:    {e.processed}",
        f"  Failed:       {e.failed}",
        f"  Workers:      {', '.join(e.workers) or '(default only)'}",
        f"  Commands:     {commands}",
        "",
    ]


def _engine_status(e: EngineInfo) -> str:
    if e.state in (EngineState.STALE, EngineState.DEAD) and e.reason:
        return f"{e.state.value} ({e.reason})"
    return e.state.value


def _running(data: StatusData) -> list[str]:
    lines = [f"# RUNNING JOBS: {len(data.running)}", ""]
    if not data.running:
        lines.append("  (none)")
    for job in data.running:
        progress = "   -" if job.progress is None else f"{job.progress:>4.0%}"
        since = "-" if job.started_date is None else format_age(data.now_ms - job.started_date)
        worker = job.worker or "default"
        status = f'  "{job.status}"' if job.status else ""
        lines.append(
            f"  #{job.id:<6} {job.command:<24} {worker:<10} {progress}  {since:>8}"
            f"  on {job.owner or '-'}{status}"
        )
    return lines


def _months(data: StatusData) -> list[str]:
    total = sum(m.size_bytes for m in data.months)
    lines = [f"# MONTHLY DATABASES: {len(data.months)} ({format_size(total)})", ""]
    if not data.months:
        lines.append("  (none yet: jobs move there when they finish)")
    for month in data.months:
        shown = "unreadable" if month.error else format_size(month.size_bytes)
        lines.append(f"  {month.month}  {shown:>9}  {month.path}")
    return lines


def _throughput(data: StatusData) -> list[str]:
    minutes = data.throughput_minutes
    lines = [f"# THROUGHPUT (last {minutes} minutes, UTC):", ""]
    by_minute = {b.minute_start: b for b in data.throughput}
    first = (data.now_ms // MINUTE_MS - minutes + 1) * MINUTE_MS
    totals = [0, 0, 0]
    for start in range(first, first + minutes * MINUTE_MS, MINUTE_MS):
        bucket = by_minute.get(start)
        figures = (bucket.completed, bucket.failed, bucket.cancelled) if bucket else (0, 0, 0)
        totals = [t + n for t, n in zip(totals, figures, strict=True)]
        clock = datetime.fromtimestamp(start / 1000, tz=UTC).strftime("%H:%M")
        lines.append(f"  {clock}  {_finished(figures)}")
    rate = sum(totals) / (minutes * 60)
    lines.append(f"  total  {_finished(totals)}  ({rate:.2f} jobs/s)")
    return lines


def _finished(figures: Sequence[int]) -> str:
    done, failed, cancelled = figures
    return f"completed {done:>7}  failed {failed:>7}  cancelled {cancelled:>7}"


def _scheduled(tasks: list[ScheduledTaskInfo], now_ms: int) -> list[str]:
    lines = [f"# SCHEDULED TASKS: {len(tasks)}", ""]
    if not tasks:
        lines.append("  (none)")
    for task in tasks:
        last_job = "-"
        if task.last_job_id is not None:
            last_job = f"#{task.last_job_id} {task.last_job_state or 'unknown'}"
        lines += [
            f"TASK {task.name}",
            f"  Schedule:     {task.description or task.schedule}",
            f"  Command:      {task.command}",
            f"  Paused:       {'yes' if task.paused else 'no'}",
            f"  Next run:     {task.next_run_text or _relative(task.next_run_at, now_ms)}",
            f"  Last run:     {_relative(task.last_run_at, now_ms)}",
            f"  Last job:     {last_job}",
            "",
        ]
    return lines


def _relative(when: int | None, now_ms: int) -> str:
    if when is None:
        return "-"
    delta = when - now_ms
    words = f"in {format_age(delta)}" if delta >= 0 else f"{format_age(-delta)} ago"
    return f"{format_time(when)} ({words})"


def format_time(ms: int) -> str:
    """UTC time to the second: `2026-11-02 09:00:00Z`."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def format_age(ms: int) -> str:
    """A duration in the two largest units: `4s`, `2m 05s`, `3h 07m`, `2d 04h`."""
    seconds = max(0, ms) // 1000
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_size(size: int) -> str:
    """Bytes in binary units: `512 B`, `104.6 KiB`, `3.2 MiB`."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def to_json(data: StatusData) -> dict[str, Any]:
    """The same figures as plain JSON values (states as strings, times as epoch ms)."""
    return {
        "directory": data.directory,
        "now_ms": data.now_ms,
        "counts": {state.value: data.counts.get(state, 0) for state in JobState},
        "engines": [_plain(e) for e in data.engines],
        "running": [_plain(j) for j in data.running],
        "months": [_plain(m) for m in data.months],
        "throughput_minutes": data.throughput_minutes,
        "throughput": [_plain(b) for b in data.throughput],
        "scheduled_tasks": None if data.scheduled is None else [_plain(t) for t in data.scheduled],
        "queues": [queue_json(q) for q in data.queues],
        "warnings": warnings(data),
    }


def _plain(record: Any) -> dict[str, Any]:
    return {
        key: value.value if isinstance(value, Enum) else value
        for key, value in dataclasses.asdict(record).items()
    }


def status_line(now_ms: int, counts: dict[JobState, int], engines: list[EngineInfo]) -> str:
    """One line of figures, printed every few seconds by `jobs demo --no-tui`."""
    figures = "  ".join(f"{state.value} {counts.get(state, 0)}" for state in JobState)
    alive = sum(1 for e in engines if e.alive)
    clock = datetime.fromtimestamp(now_ms / 1000, tz=UTC).strftime("%H:%M:%S")
    return f"{clock}  {figures}  engines alive {alive}"
