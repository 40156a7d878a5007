"""Panes of the dashboard: state counts, the throughput chart, engines, month databases."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.color import Color
from textual.content import Content
from textual_plotext import PlotextPlot

from jobs_core import (
    EngineInfo,
    EngineState,
    JobState,
    MonthDatabase,
    RunningJob,
    ThroughputBucket,
    from_ms,
)
from jobs_tui.formatting import duration, size
from jobs_tui.themes import Palette
from jobs_tui.widgets.keyed_table import Cells, Column, Row

STATE_STYLES = {
    JobState.QUEUED: "$text-primary",
    JobState.STARTED: "$text-accent",
    JobState.EXECUTED: "$text-accent",
    JobState.COMPLETED: "$text-success",
    JobState.FAILED: "$text-error",
    JobState.CANCELLED: "$text-warning",
}
STATE_NAMES = {JobState.STARTED: "running"}
"""What the dashboard calls a state (an operator says running, not started)."""

ENGINE_STATE_ROLES = {
    EngineState.ALIVE: "success",
    EngineState.STALE: "warning",
    EngineState.DEAD: "error",
}
"""Palette role of each engine state; stopped engines are muted."""

ENGINE_COLUMNS: list[Column] = [
    Column("engine", "Engine", 14, grow=3, keep=10, most=48),
    Column("host", "Host", 8, grow=1, keep=4, most=24),
    Column("pid", "Pid", 7, keep=3),
    Column("state", "State", 7, keep=9),
    Column("heartbeat", "Heartbeat", 9, keep=6),
    Column("running", "Running", 7, keep=8, right=True),
    Column("processed", "Done", 8, keep=5, right=True),
    Column("failed", "Failed", 6, keep=5, right=True),
    Column("now", "Running now", 12, grow=3, keep=2),
]


def counts_content(counts: dict[JobState, int]) -> Content:
    """One line per state: the count right-aligned, the state name in its colour."""
    parts: list[Content] = []
    for state in JobState:
        name = STATE_NAMES.get(state, str(state))
        parts.append(
            Content.assemble(f"{counts.get(state, 0):>10,}  ", (name, STATE_STYLES[state]))
        )
    return Content("\n").join(parts)


def throughput_series(
    buckets: Sequence[ThroughputBucket], now: int, minutes: int
) -> tuple[list[int], list[float], list[float], list[float]]:
    """(minute starts, completed, failed, cancelled) per minute for the last `minutes`
    minutes, zeros where nothing finished."""
    first = now // 60_000 * 60_000 - (minutes - 1) * 60_000
    by_minute = {b.minute_start: b for b in buckets}
    starts = [first + i * 60_000 for i in range(minutes)]
    empty = ThroughputBucket(minute_start=0, completed=0, failed=0)
    rows = [by_minute.get(start, empty) for start in starts]
    return (
        starts,
        [float(b.completed) for b in rows],
        [float(b.failed) for b in rows],
        [float(b.cancelled) for b in rows],
    )


def throughput_summary(buckets: Sequence[ThroughputBucket], minutes: int) -> Content:
    """The totals in the colours of their chart lines, so the line also reads as a legend
    (the chart draws its own only when it is tall enough)."""
    done = sum(b.completed for b in buckets)
    failed = sum(b.failed for b in buckets)
    cancelled = sum(b.cancelled for b in buckets)
    return Content.assemble(
        f"last {minutes} min: ", (f"{done:,} completed", "$text-success"), ", ",
        (f"{failed:,} failed", "$text-error"), ", ", (f"{cancelled:,} cancelled", "$text-warning"),
    )  # fmt: skip


def _rgb(variables: dict[str, str], name: str) -> tuple[int, int, int]:
    return Color.parse(variables.get(name, "#888888")).rgb


def draw_throughput(
    plot: PlotextPlot, buckets: Sequence[ThroughputBucket], now: int, minutes: int
) -> None:
    """Completed, cancelled and failed jobs per minute, as three lines over a time axis
    (UTC); failed drawn last, so it shows where the lines meet."""
    starts, completed, failed, cancelled = throughput_series(buckets, now, minutes)
    xs = list(range(len(starts)))
    variables = plot.app.theme_variables
    # A legend of three lines would hide a short chart (the dashboard at 80x24).
    legend = plot.size.height >= LEGEND_MIN_HEIGHT
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    for values, name, role in (
        (completed, "completed", "success"), (cancelled, "cancelled", "warning"),
        (failed, "failed", "error"),
    ):  # fmt: skip
        plt.plot(xs, values, label=name if legend else None, marker="braille",
                 color=_rgb(variables, role))  # fmt: skip
    ticks = time_ticks(starts)
    plt.xticks([float(i) for i in ticks], [from_ms(starts[i]).strftime("%H:%M") for i in ticks])
    top = max(1, int(max([*completed, *failed, *cancelled, 1.0]) + 0.999))
    plt.ylim(0, top)
    plt.yticks(sorted({0, top // 2, top}))
    plot.refresh()


LEGEND_MIN_HEIGHT = 10
"""Rows a chart needs before it shows its legend."""

NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 360, 720, 1440)
"""Minutes between time labels: the first that leaves at most five labels."""


def time_ticks(starts: Sequence[int]) -> list[int]:
    """Indexes of the minutes to label: round times (09:00, 09:05), five at most."""
    step = next((s for s in NICE_STEPS if len(starts) / s <= 5), NICE_STEPS[-1])
    return [i for i, start in enumerate(starts) if (start // 60_000) % step == 0]


def engine_row(
    engine: EngineInfo, running: Sequence[RunningJob], now: int, palette: Palette
) -> Row:
    """An engine with what it runs now; its running count comes from the live rows, not from
    its last heartbeat, so the two never disagree."""
    mine = [job for job in running if job.owner == engine.id]
    state = engine.state
    role = ENGINE_STATE_ROLES.get(state, "muted")
    heartbeat = duration(now - engine.heartbeat_at) + " ago"
    cells: Cells = {
        "engine": Text(engine.id, no_wrap=True, overflow="ellipsis"),
        "host": Text(engine.host, no_wrap=True, overflow="ellipsis"), "pid": str(engine.pid),
        "state": Text(state.value, style=palette[role]),
        "heartbeat": Text(heartbeat, style=palette[role] if state is not EngineState.ALIVE
                          else ""),
        "running": Text(str(len(mine)), justify="right"),
        "processed": Text(f"{engine.processed:,}", justify="right"),
        "failed": Text(f"{engine.failed:,}", justify="right"),
        "now": Text(", ".join(f"#{j.id} {j.command}" for j in mine) or "-", no_wrap=True,
                    overflow="ellipsis"),
    }  # fmt: skip
    return engine.id, cells


def months_text(months: Sequence[MonthDatabase]) -> str:
    """The month databases in one line, newest first (file names are `jobs_YYYY-MM.db`);
    a month whose file cannot be read or written says so."""
    if not months:
        return "Monthly databases: none yet (finished jobs move there)"
    listed = ", ".join(
        f"{m.month} ({'unreadable' if m.error else size(m.size_bytes)})" for m in months[:6]
    )
    more = f" and {len(months) - 6} older" if len(months) > 6 else ""
    return f"Monthly databases: {listed}{more}"
