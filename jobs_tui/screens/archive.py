"""Completed and failed/cancelled jobs of one month (or every month), newest first."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Label, Select

from jobs_core import Job, JobState, MonthDatabase, Page, StoreError
from jobs_tui.formatting import size
from jobs_tui.list_window import PAGE_SIZE
from jobs_tui.messages import JobsLoaded, LoadFailed
from jobs_tui.screens.job_list import JobListScreen
from jobs_tui.widgets.job_rows import ARCHIVE_COLUMNS, archive_row
from jobs_tui.widgets.keyed_table import Row

ALL_MONTHS = "*"
"""The month selector's value for a search across every month."""


class ArchiveScreen(JobListScreen):
    """One month of finished jobs of one kind (completed, or failed and cancelled)."""

    KIND: ClassVar[JobState] = JobState.COMPLETED
    BINDINGS = [Binding("d", "delete", "Delete", id="job.delete")]
    COLUMNS = ARCHIVE_COLUMNS
    NEWEST_FIRST = True
    TICK_SECONDS = None  # archived rows do not age; refetch only on a change

    def __init__(self) -> None:
        super().__init__()
        self.month: str | None = None
        self.months: list[MonthDatabase] = []

    def compose_top(self) -> ComposeResult:
        with Horizontal(id="month-bar"):
            yield Label("Month", id="month-label")
            yield Select[str]([], prompt="no archive yet", id="month", compact=True)

    async def fetch(self) -> JobsLoaded:
        self._follow_or_hold()
        months = await self.jobs.months()
        if self.month is None and months:
            self.month = months[0].month
        try:
            pages = await self.fetch_window()
        except StoreError as error:
            # One unreadable month file: say so, show it empty, keep the selector for the
            # other months.
            self.post_message(LoadFailed(str(error)))
            pages = [(self.window.refresh_fetch(), Page(items=[], next_cursor=None))]
        return JobsLoaded(pages, months=months, month=self.month)

    async def fetch_page(self, cursor: int | None, limit: int = PAGE_SIZE) -> Page[Job]:
        if self.month is None:
            return Page(items=[], next_cursor=None)
        if self.month == ALL_MONTHS:
            return await self.jobs.find_jobs(self.scope_query(), cursor=cursor, limit=limit)
        if self.KIND is JobState.COMPLETED:
            return await self.jobs.list_completed(self.month, self.filter, cursor=cursor,
                                                  limit=limit)  # fmt: skip
        return await self.jobs.list_failed(self.month, self.filter, cursor=cursor, limit=limit)

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        if message.months is not None and message.month == self.month:
            self._show_months(message.months)
        super().on_jobs_loaded(message)

    def _show_months(self, months: list[MonthDatabase]) -> None:
        if months == self.months:
            return
        self.months = months
        select = self.query_one("#month", Select)
        with self.prevent(Select.Changed):
            options = [(month_label(m), m.month) for m in months]
            select.set_options([*options, ("every month", ALL_MONTHS)] if options else [])
            if self.month is not None:
                select.value = self.month

    def on_select_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.month:
            self.month = event.value
            self.restart()

    def make_row(self, job: Job) -> Row:
        return archive_row(job, self.palette())


def month_label(month: MonthDatabase) -> str:
    return f"{month.month}  ({'unreadable' if month.error else size(month.size_bytes)})"


class CompletedScreen(ArchiveScreen):
    """Completed jobs of a month."""

    MODE = "completed"
    KIND = JobState.COMPLETED
    SCOPE = frozenset({JobState.COMPLETED})


class FailedScreen(ArchiveScreen):
    """Failed and cancelled jobs of a month."""

    MODE = "failed"
    KIND = JobState.FAILED
    SCOPE = frozenset({JobState.FAILED, JobState.CANCELLED})
