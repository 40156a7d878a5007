"""Completed and failed/cancelled jobs of one month, newest first, with filters and paging."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Select

from jobs_core import Job, JobState, MonthDatabase, Page, StoreError
from jobs_tui.formatting import size
from jobs_tui.messages import JobsLoaded, LoadFailed
from jobs_tui.screens.job_list import PAGE_SIZE, JobListScreen
from jobs_tui.widgets.job_rows import ARCHIVE_COLUMNS, archive_row
from jobs_tui.widgets.keyed_table import Row

ARCHIVE_FILTERS = ["command", "tag", "batch_id", "created_by", "user_id", "ref_id", "text"]


class ArchiveScreen(JobListScreen):
    """One month of finished jobs of one kind (completed, or failed and cancelled)."""

    KIND: ClassVar[JobState] = JobState.COMPLETED
    COLUMNS = ARCHIVE_COLUMNS
    FILTER_FIELDS = ARCHIVE_FILTERS
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

    def on_mount(self) -> None:
        self.sub_title = self.TITLE_TEXT
        super().on_mount()

    async def fetch(self) -> JobsLoaded:
        query = self._query
        months = await self.jobs.months()
        month = self.month or (months[0].month if months else None)
        page: Page[Job] = Page(items=[], next_cursor=None)
        if month is not None:
            try:
                page = await self._list(month, None)
            except StoreError as error:
                # One unreadable month file: say so, and keep the selector for the others.
                self.post_message(LoadFailed(str(error)))
        message = JobsLoaded(page, months=months, month=month)
        message.query = query
        return message

    async def fetch_page(self, cursor: int | None) -> Page[Job]:
        if self.month is None:
            return Page(items=[], next_cursor=None)
        return await self._list(self.month, cursor)

    async def _list(self, month: str, cursor: int | None) -> Page[Job]:
        if self.KIND is JobState.COMPLETED:
            return await self.jobs.list_completed(
                month, self.filter, cursor=cursor, limit=PAGE_SIZE
            )
        return await self.jobs.list_failed(month, self.filter, cursor=cursor, limit=PAGE_SIZE)

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        if message.months is not None and message.query == self._query:
            self.month = message.month
            self._show_months(message.months)
        super().on_jobs_loaded(message)

    def _show_months(self, months: list[MonthDatabase]) -> None:
        if months == self.months:
            return
        self.months = months
        select = self.query_one("#month", Select)
        with self.prevent(Select.Changed):
            select.set_options((month_label(m), m.month) for m in months)
            if self.month is not None:
                select.value = self.month

    def on_select_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.month:
            self.month = event.value
            self.restart()

    def make_row(self, job: Job) -> Row:
        return archive_row(job)


def month_label(month: MonthDatabase) -> str:
    return f"{month.month}  ({'unreadable' if month.error else size(month.size_bytes)})"


class CompletedScreen(ArchiveScreen):
    """Completed jobs of a month."""

    TITLE_TEXT = "Completed"
    KIND = JobState.COMPLETED


class FailedScreen(ArchiveScreen):
    """Failed and cancelled jobs of a month."""

    TITLE_TEXT = "Failed and cancelled"
    KIND = JobState.FAILED
