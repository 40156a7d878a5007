"""The workers view: engines (alive or dead, heartbeat, counters) and the jobs they run."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Static

from jobs_core import JobState, RunningJob
from jobs_tui.messages import WorkersLoaded
from jobs_tui.screens.base import DataScreen, SelectedJob
from jobs_tui.widgets.dashboard_panes import ENGINE_COLUMNS, engine_row
from jobs_tui.widgets.job_rows import RUNNING_COLUMNS, running_row
from jobs_tui.widgets.keyed_table import KeyedTable


class WorkersScreen(DataScreen):
    """Engines and running jobs; `c` cancels the running job under the cursor."""

    BINDINGS = [DataScreen.JOB_BINDINGS[0]]

    def __init__(self) -> None:
        super().__init__()
        self.running: list[RunningJob] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Engines", classes="pane-title")
        yield KeyedTable(ENGINE_COLUMNS, id="engines")
        yield Static("Running jobs", classes="pane-title")
        yield KeyedTable(RUNNING_COLUMNS, id="running")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Workers"
        self.query_one("#running", KeyedTable).focus()
        super().on_mount()

    async def fetch(self) -> WorkersLoaded:
        return WorkersLoaded(await self.jobs.engines(), await self.jobs.running_jobs())

    def on_workers_loaded(self, message: WorkersLoaded) -> None:
        now = self.now_ms()
        self.running = message.running
        engines = [engine_row(e, message.running, now) for e in message.engines]
        self.query_one("#engines", KeyedTable).sync(engines)
        self.query_one("#running", KeyedTable).sync([running_row(j, now) for j in message.running])
        self.loaded = True
        self.refresh_bindings()

    def selected_job(self) -> SelectedJob | None:
        key = self.query_one("#running", KeyedTable).selected_key
        for job in self.running:
            if str(job.id) == key:
                return SelectedJob(id=job.id, command=job.command, state=JobState.STARTED)
        return None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.data_table.id == "running":
            self.action_open_job()
