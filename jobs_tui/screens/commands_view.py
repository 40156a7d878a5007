"""The commands view: per command, runs, failure rate and p50/p95 durations over 15 minutes
and 24 hours, and a chart of the selected command's completed and failed jobs per minute."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from jobs_core import CommandFigures
from jobs_tui.formatting import duration
from jobs_tui.messages import CommandsLoaded
from jobs_tui.screens.base import DataScreen
from jobs_tui.themes import Palette
from jobs_tui.widgets.dashboard_panes import draw_throughput
from jobs_tui.widgets.keyed_table import Cells, Column, KeyedTable, Row

SHORT_MINUTES = 15
LONG_MINUTES = 24 * 60
CHART_MINUTES = 60

COMMAND_COLUMNS: list[Column] = [
    Column("command", "Command", 12, grow=1, keep=10, most=48),
    Column("runs", "Runs 15m", 8, keep=9, right=True),
    Column("failed", "Fail% 15m", 9, keep=8, right=True),
    Column("p50", "p50 15m", 7, keep=7, right=True),
    Column("p95", "p95 15m", 7, keep=6, right=True),
    Column("runs_day", "Runs 24h", 9, keep=5, right=True),
    Column("failed_day", "Fail% 24h", 9, keep=4, right=True),
    Column("p50_day", "p50 24h", 7, keep=3, right=True),
    Column("p95_day", "p95 24h", 7, keep=2, right=True),
    Column("cancelled_day", "Cancelled 24h", 13, keep=1, right=True),
]
NOTE = (
    "Durations come from per-minute histograms (accurate to their bucket, a factor of 2 to "
    "2.5). Chart: the selected command, last 60 minutes (UTC)."
)


def _rate(figures: CommandFigures | None, palette: Palette) -> Text:
    if figures is None or figures.failure_rate is None:
        return Text("-", justify="right")
    rate = figures.failure_rate
    style = palette["error"] if rate >= 0.05 else palette["warning"] if rate > 0 else ""
    return Text(f"{rate * 100:.1f}%", style=style, justify="right")


def _ms(value: int | None) -> Text:
    return Text(duration(value) if value is not None else "-", justify="right")


def _count(value: int | None) -> Text:
    return Text(f"{value:,}" if value is not None else "-", justify="right")


def command_row(
    command: str, short: CommandFigures | None, long: CommandFigures | None, palette: Palette
) -> Row:
    """A command's figures over both windows."""
    cells: Cells = {
        "command": Text(command, no_wrap=True, overflow="ellipsis"),
        "runs": _count(short.runs if short else 0), "failed": _rate(short, palette),
        "p50": _ms(short.p50_ms if short else None), "p95": _ms(short.p95_ms if short else None),
        "runs_day": _count(long.runs if long else 0), "failed_day": _rate(long, palette),
        "p50_day": _ms(long.p50_ms if long else None),
        "p95_day": _ms(long.p95_ms if long else None),
        "cancelled_day": _count(long.cancelled if long else 0),
    }  # fmt: skip
    return command, cells


class CommandsScreen(DataScreen):
    """Figures per command from the engines' tallies: as fast with a billion archived jobs."""

    MODE = "commands"
    TICK_SECONDS = 5.0
    MIN_INTERVAL = 2.0

    def __init__(self) -> None:
        super().__init__()
        self.message: CommandsLoaded | None = None

    def compose_body(self) -> ComposeResult:
        yield KeyedTable(COMMAND_COLUMNS, id="commands")
        yield Static("", id="chart-title", classes="pane-title")
        yield PlotextPlot(id="command-chart")
        yield Static(NOTE, classes="list-footer", id="commands-note")

    def on_mount(self) -> None:
        self.query_one(KeyedTable).focus()
        super().on_mount()

    def selected_command(self) -> str | None:
        return self.query_one(KeyedTable).selected_key

    async def fetch(self) -> CommandsLoaded:
        short = await self.jobs.command_figures(SHORT_MINUTES)
        long = await self.jobs.command_figures(LONG_MINUTES)
        command = self.selected_command() or (long[0].command if long else None)
        chart = await self.jobs.command_throughput(command, CHART_MINUTES) if command else []
        return CommandsLoaded(short, long, command, chart)

    def on_commands_loaded(self, message: CommandsLoaded) -> None:
        self.message = message
        palette = self.palette()
        short = {f.command: f for f in message.short}
        long = {f.command: f for f in message.long}
        order = [f.command for f in message.long] + [c for c in short if c not in long]
        rows = [command_row(c, short.get(c), long.get(c), palette) for c in order]
        self.query_one(KeyedTable).sync(rows)
        title = f"{message.command}: finished per minute" if message.command else "No jobs yet"
        self.query_one("#chart-title", Static).update(title)
        draw_throughput(self.query_one(PlotextPlot), message.throughput, self.now_ms(),
                        CHART_MINUTES)  # fmt: skip
        self.loaded = True

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.message is not None and self.selected_command() != self.message.command:
            self.request_refresh()
