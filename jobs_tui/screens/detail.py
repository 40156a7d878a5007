"""The job detail screen: every field, request and response, error, log tail, relations."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from jobs_core import TERMINAL_STATES, JobResult
from jobs_tui.messages import JobDetailLoaded
from jobs_tui.screens.base import DataScreen, SelectedJob
from jobs_tui.widgets.attempts import AttemptsTable
from jobs_tui.widgets.detail_panes import (
    JsonPane,
    LogTail,
    error_text,
    job_fields,
    relations_text,
)


class JobDetailScreen(DataScreen):
    """One job; refetched when another process changes the store, so logs follow."""

    TICK_SECONDS = None
    BINDINGS = [
        Binding("escape", "back", "Back", id="detail.back"),
        *DataScreen.JOB_BINDINGS,
        Binding("l", "whole_log", "Whole log", id="detail.whole_log"),
    ]

    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id
        self.result: JobResult | None = None
        self.shown_attempt: int | None = None
        """Place in the history of the attempt whose lines the log pane shows (enter on it);
        None: the whole log."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="detail"):
            fields: DataTable[str] = DataTable(id="fields", cursor_type="none", show_header=False)
            yield fields
            with VerticalScroll(id="detail-right"):
                yield Static("Attempts (enter: its log, l: whole log)", classes="pane-title")
                yield AttemptsTable(id="attempts")
                yield Static("Request", classes="pane-title")
                yield JsonPane(id="request")
                yield Static("Response", classes="pane-title")
                yield JsonPane(id="response")
                yield Static("Error", classes="pane-title")
                yield Static(id="error", markup=False)
                yield Static("Relations", classes="pane-title")
                yield Static(id="relations", markup=False)
        with Vertical(id="log-box"):
            yield Static("Log", classes="pane-title", id="log-title")
            yield LogTail(id="log")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = f"Job {self.job_id}"
        self.query_one("#fields", DataTable).add_columns("Field", "Value")
        super().on_mount()

    async def fetch(self) -> JobDetailLoaded:
        result = await self.jobs.get_job(self.job_id)
        dependents = await self.jobs.dependents(self.job_id)
        batch_id = result.summary.batch_id
        batch = await self.jobs.batch_status(batch_id) if batch_id else None
        attempts = await self.jobs.attempts(self.job_id)
        return JobDetailLoaded(result, dependents, batch, attempts)

    def on_job_detail_loaded(self, message: JobDetailLoaded) -> None:
        self.result = message.result
        job = message.result.job
        fields = self.query_one("#fields", DataTable)
        with self.app.batch_update():
            fields.clear()
            for name, value in job_fields(message.result):
                fields.add_row(name, value)
            self.query_one("#request", JsonPane).show(job.request_body if job else None)
            self.query_one("#response", JsonPane).show(job.response_body if job else None)
            self.query_one("#error", Static).update(error_text(job))
            self.query_one("#relations", Static).update(
                relations_text(message.dependents, message.batch)
            )
            self.query_one(AttemptsTable).show(message.attempts)
            self._show_log()
        self.loaded = True
        self.refresh_bindings()

    def selected_job(self) -> SelectedJob | None:
        if self.result is None:
            return None
        summary = self.result.summary
        return SelectedJob(id=summary.id, command=summary.command, state=summary.state)

    @property
    def finished(self) -> bool:
        return self.result is not None and self.result.state in TERMINAL_STATES

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on an attempt: the log pane shows the lines it wrote."""
        if isinstance(event.data_table, AttemptsTable):
            self.shown_attempt = event.cursor_row
            self._show_log()

    def action_whole_log(self) -> None:
        self.shown_attempt = None
        self._show_log()

    def _show_log(self) -> None:
        title = self.query_one("#log-title", Static)
        attempts = self.query_one(AttemptsTable).attempts
        place = self.shown_attempt
        if place is not None and place < len(attempts):
            # As last fetched: a running attempt's lines grow with each refresh.
            attempt = attempts[place]
            where = f" on {attempt.engine}" if attempt.engine else ""
            cut = " (its first lines were dropped by the log cap)" if attempt.logs_truncated else ""
            title.update(f"Log of attempt {attempt.number or '-'} ({attempt.outcome}){where}{cut}")
            self.query_one(LogTail).show(attempt.logs)
            return
        job = self.result.job if self.result else None
        title.update("Log")
        self.query_one(LogTail).show(job.logs if job else "")

    def action_back(self) -> None:
        self.dismiss()
