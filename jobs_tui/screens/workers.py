"""The workers view: engines (alive, stale, dead or stopped; heartbeat, figures) and the
jobs they run."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from jobs_core import RunningJob
from jobs_tui.messages import WorkersLoaded
from jobs_tui.screens.base import DataScreen
from jobs_tui.screens.running import RunningJobsScreen
from jobs_tui.widgets.dashboard_panes import ENGINE_COLUMNS, engine_row
from jobs_tui.widgets.job_rows import RUNNING_COLUMNS, running_row
from jobs_tui.widgets.keyed_table import KeyedTable


class WorkersScreen(RunningJobsScreen):
    """Engines and running jobs; `c` cancels the running job under the cursor."""

    MODE = "workers"
    BINDINGS = [
        Binding("enter", "open_job", "Open", id="workers.open"),
        DataScreen.JOB_BINDINGS[0],
    ]

    def __init__(self) -> None:
        super().__init__()
        self.message: WorkersLoaded | None = None

    @property
    def running(self) -> list[RunningJob]:
        return self.message.running if self.message is not None else []

    def compose_body(self) -> ComposeResult:
        yield Static("Engines", classes="pane-title", id="engines-title")
        yield KeyedTable(ENGINE_COLUMNS, id="engines")
        yield Static("Running jobs", classes="pane-title", id="running-title")
        yield KeyedTable(RUNNING_COLUMNS, id="running")

    def on_mount(self) -> None:
        self.query_one("#running", KeyedTable).focus()
        super().on_mount()

    async def fetch(self) -> WorkersLoaded:
        return WorkersLoaded(await self.jobs.engines(), await self.jobs.running_jobs())

    def on_workers_loaded(self, message: WorkersLoaded) -> None:
        self.message = message
        now = self.now_ms()
        palette = self.palette()
        engines = [engine_row(e, message.running, now, palette) for e in message.engines]
        self.query_one("#engines", KeyedTable).sync(engines)
        live = sum(1 for e in message.engines if e.id in self.health.live)
        self.query_one("#engines-title", Static).update(
            f"Engines: {live} alive of {len(message.engines)}"
        )
        running = [running_row(j, now, self.health, palette) for j in message.running]
        self.query_one("#running", KeyedTable).sync(running)
        self.query_one("#running-title", Static).update(f"Running jobs: {len(running):,}")
        self.loaded = True
        self.refresh_footer()

    def health_changed(self) -> None:
        if self.message is not None:
            self.on_workers_loaded(self.message)
