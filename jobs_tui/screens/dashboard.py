"""The dashboard: counts per state, throughput, engines and what they run, month databases."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Sparkline, Static

from jobs_tui.messages import DashboardLoaded
from jobs_tui.screens.base import DataScreen
from jobs_tui.widgets.dashboard_panes import (
    ENGINE_COLUMNS,
    MONTH_COLUMNS,
    counts_content,
    engine_row,
    month_row,
    throughput_series,
    throughput_summary,
)
from jobs_tui.widgets.keyed_table import KeyedTable

THROUGHPUT_MINUTES = 15


class DashboardScreen(DataScreen):
    """Overview; a handful of small aggregate queries per refresh, never a scan."""

    TICK_SECONDS = 2.0
    MIN_INTERVAL = 1.0  # aggregates over all jobs: at most once a second on a busy store

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="dash-top"):
            with Vertical(id="counts-box", classes="box"):
                yield Static("Jobs by state", classes="pane-title")
                yield Static(id="counts")
            with Vertical(id="throughput-box", classes="box"):
                yield Static("Throughput (jobs finished per minute)", classes="pane-title")
                yield Sparkline([0.0] * THROUGHPUT_MINUTES, id="throughput")
                yield Static(id="throughput-summary")
        yield Static("Engines", classes="pane-title")
        yield KeyedTable(ENGINE_COLUMNS, id="engines")
        yield Static("Monthly databases", classes="pane-title")
        yield KeyedTable(MONTH_COLUMNS, id="months")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Dashboard"
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
        self.query_one("#counts", Static).update(counts_content(message.counts))
        series = throughput_series(message.throughput, now, THROUGHPUT_MINUTES)
        self.query_one("#throughput", Sparkline).data = series
        summary = throughput_summary(message.throughput, THROUGHPUT_MINUTES)
        self.query_one("#throughput-summary", Static).update(summary)
        engines = [engine_row(e, message.running, now) for e in message.engines]
        self.query_one("#engines", KeyedTable).sync(engines)
        self.query_one("#months", KeyedTable).sync([month_row(m) for m in message.months])
        self.loaded = True
