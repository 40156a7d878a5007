"""The job detail screen: every field, request and response, error, log tail, relations."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from jobs_core import TERMINAL_STATES, Job, JobResult, JobState
from jobs_tui.messages import JobDetailLoaded
from jobs_tui.screens.base import DataScreen, SelectedJob
from jobs_tui.widgets.attempts import AttemptsTable
from jobs_tui.widgets.detail_panes import (
    JsonPane,
    LogTail,
    Pane,
    error_text,
    fields_table,
    job_fields,
    log_title,
    relations_text,
)


class JobDetailScreen(DataScreen):
    """One job; refetched when another process changes the store, so logs follow, and every
    second while it runs (its attempt's time so far)."""

    TICK_SECONDS = 1.0
    BINDINGS = [
        Binding("escape", "back", "Back", id="detail.back"),
        *DataScreen.JOB_BINDINGS,
        Binding("t", "tree", "Relations", id="detail.tree"),
        Binding("b", "batch", "Batch", id="detail.batch"),
        Binding("l", "whole_log", "Whole log", id="detail.whole_log"),
        DataScreen.COPY_BINDING,
    ]

    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id
        self.result: JobResult | None = None
        self.shown_attempt: int | None = None
        """Place in the history of the attempt whose lines the log pane shows (enter on it);
        None: the whole log."""

    def screen_title(self) -> str:
        return f"Job {self.job_id}"

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="detail"):
            with VerticalScroll(id="fields"):
                yield Pane(id="fields-body")
            with VerticalScroll(id="detail-right"):
                yield Static("Attempts (enter: its log)", classes="pane-title")
                yield AttemptsTable(id="attempts")
                yield Static("Request", classes="pane-title")
                yield JsonPane(id="request")
                yield Static("Response", classes="pane-title")
                yield JsonPane(id="response")
                yield Static("Error", classes="pane-title")
                yield Pane(id="error", markup=False)
                yield Static("Relations", classes="pane-title")
                yield Pane(id="relations", markup=False)
        with Vertical(id="log-box"):
            yield Pane("Log", classes="pane-title", id="log-title")
            yield LogTail(id="log")

    async def fetch(self) -> JobDetailLoaded:
        result = await self.jobs.get_job(self.job_id)
        dependents = await self.jobs.dependents(self.job_id)
        batch_id = result.summary.batch_id
        batch = await self.jobs.batch_status(batch_id) if batch_id else None
        attempts = await self.jobs.attempts(self.job_id)
        why = None
        if result.state is JobState.QUEUED:
            why = (await self.jobs.why_waiting_many([self.job_id])).get(self.job_id)
        return JobDetailLoaded(result, dependents, batch, attempts, why)

    def ticks(self) -> bool:
        return self.result is not None and self.result.state is JobState.STARTED

    def on_job_detail_loaded(self, message: JobDetailLoaded) -> None:
        self.result = message.result
        job = message.result.job
        pairs = job_fields(message.result, self.now_ms())
        if message.why is not None:
            pairs.insert(3, ("waiting", message.why.text))
        muted = self.palette()["muted"]
        with self.app.batch_update():
            self.query_one("#fields-body", Pane).show_value(
                (tuple(pairs), muted), lambda: fields_table(pairs, muted)
            )
            self.query_one("#request", JsonPane).show(job.request_body if job else None)
            self.query_one("#response", JsonPane).show(job.response_body if job else None)
            self.query_one("#error", Pane).show_value(error_text(job))
            self.query_one("#relations", Pane).show_value(
                relations_text(message.dependents, message.batch)
            )
            self.query_one(AttemptsTable).show(message.attempts, self.now_ms())
            self._show_log()
        self.loaded = True
        self.refresh_footer()

    def selected_job(self) -> SelectedJob | None:
        if self.result is None:
            return None
        summary = self.result.summary
        return SelectedJob(id=summary.id, command=summary.command, state=summary.state)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "batch":
            return True if self.result is not None and self.result.summary.batch_id else None
        return super().check_action(action, parameters)

    def action_tree(self) -> None:
        self.jobs_app.open_tree(self.job_id)

    def action_batch(self) -> None:
        if self.result is not None and self.result.summary.batch_id:
            self.jobs_app.open_batch(self.result.summary.batch_id)

    def copy_source(self) -> Job | None:
        return self.result.job if self.result is not None else None

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
        title = self.query_one("#log-title", Pane)
        attempts = self.query_one(AttemptsTable).attempts
        place = self.shown_attempt
        if place is not None and place < len(attempts):
            # As last fetched: a running attempt's lines grow with each refresh.
            attempt = attempts[place]
            where = f" on {attempt.engine}" if attempt.engine else ""
            cut = " (its first lines were dropped by the log cap)" if attempt.logs_truncated else ""
            text = f"Log of attempt {attempt.number or '-'} ({attempt.outcome}){where}{cut}"
            title.show_value(text)
            self.query_one(LogTail).show(attempt.logs)
            return
        job = self.result.job if self.result else None
        title.show_value(log_title(job))
        self.query_one(LogTail).show(job.logs if job else "")
