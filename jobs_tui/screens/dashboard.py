"""The dashboard: counts per state, throughput, engines, what runs now, month databases."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from jobs_core import RunningJob
from jobs_tui.messages import DashboardLoaded
from jobs_tui.screens.base import DataScreen
from jobs_tui.screens.running import RunningJobsScreen
from jobs_tui.widgets.dashboard_panes import (
    ENGINE_COLUMNS,
    counts_content,
    draw_throughput,
    engine_row,
    months_text,
    throughput_summary,
)
from jobs_tui.widgets.job_rows import RUNNING_COLUMNS, running_row
from jobs_tui.widgets.keyed_table import KeyedTable

THROUGHPUT_MINUTES = 15


class DashboardScreen(RunningJobsScreen):
    """Overview; a handful of small aggregate queries per refresh, never a scan."""

    MODE = "dashboard"
    TICK_SECONDS = 2.0
    MIN_INTERVAL = 1.0  # aggregates over all jobs: at most once a second on a busy store
    BINDINGS = [DataScreen.JOB_BINDINGS[0]]

    def __init__(self) -> None:
        super().__init__()
        self.message: DashboardLoaded | None = None
        self._seen: object = None
        self._chart: object = None

    @property
    def running(self) -> list[RunningJob]:
        return self.message.running if self.message is not None else []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="dash-top"):
            with Vertical(id="counts-box", classes="box"):
                yield Static("Jobs", classes="pane-title")
                yield Static(id="counts")
            with Vertical(id="throughput-box", classes="box"):
                yield Static("Finished per minute (UTC)", classes="pane-title")
                yield PlotextPlot(id="throughput")
                yield Static(id="throughput-summary")
        yield Static("Engines", classes="pane-title")
        yield KeyedTable(ENGINE_COLUMNS, id="engines")
        yield Static("Running now", classes="pane-title", id="running-title")
        yield KeyedTable(RUNNING_COLUMNS, id="running")
        yield Static(id="months", classes="list-footer", markup=False)

    def on_mount(self) -> None:
        self.query_one("#running", KeyedTable).focus()
        super().on_mount()

    async def fetch(self) -> DashboardLoaded:
        return DashboardLoaded(
            counts=await self.jobs.counts(),
            throughput=await self.jobs.throughput(THROUGHPUT_MINUTES),
            engines=await self.jobs.engines(),
            running=await self.jobs.running_jobs(),
            months=await self.jobs.months(),
        )

    def on_dashboard_loaded(self, message: DashboardLoaded) -> None:
        now = self.now_ms()
        seen = (message.data(), now // 1000)
        if self.message is not None and seen == self._seen:
            return  # nothing changed since the last redraw
        self.message, self._seen = message, seen
        palette = self.palette()
        self.query_one("#counts", Static).update(counts_content(message.counts))
        chart = (message.throughput, now // 60_000, self.app.theme)
        if chart != self._chart:  # the chart is the costly part: only when it changes
            self._chart = chart
            plot = self.query_one(PlotextPlot)
            draw_throughput(plot, message.throughput, now, THROUGHPUT_MINUTES)
        summary = throughput_summary(message.throughput, THROUGHPUT_MINUTES)
        self.query_one("#throughput-summary", Static).update(summary)
        engines = [engine_row(e, message.running, now, palette) for e in message.engines]
        self.query_one("#engines", KeyedTable).sync(engines)
        running = [running_row(j, now, self.health, palette) for j in message.running]
        self.query_one("#running", KeyedTable).sync(running)
        count = len(message.running)
        title = f"Running now: {count:,}" if count else "Running now: nothing"
        self.query_one("#running-title", Static).update(title)
        self.query_one("#months", Static).update(months_text(message.months))
        self.loaded = True
        self.refresh_footer()

    def health_changed(self) -> None:
        if self.message is not None:
            message, self.message = self.message, None
            self.on_dashboard_loaded(message)
