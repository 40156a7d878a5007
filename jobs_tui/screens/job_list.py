"""The base of the queue and archive views: a keyed job table, a filter bar, "load more"."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from jobs_core import Job, JobFilter, Page
from jobs_tui.messages import JobsLoaded
from jobs_tui.paging import append_page, merge_first_page
from jobs_tui.screens.base import DataScreen, SelectedJob
from jobs_tui.widgets.filter_bar import FilterBar
from jobs_tui.widgets.keyed_table import Column, KeyedTable, Row

PAGE_SIZE = 100
"""Rows fetched per refresh or "load more": one page, never a whole month."""


class JobListScreen(DataScreen):
    """Shows one page of jobs (plus pages loaded with `m`) and refreshes the first page."""

    TITLE_TEXT: ClassVar[str] = ""
    COLUMNS: ClassVar[list[Column]] = []
    FILTER_FIELDS: ClassVar[list[str]] = []
    NEWEST_FIRST: ClassVar[bool] = True

    BINDINGS = [
        *DataScreen.JOB_BINDINGS,
        Binding("slash", "filter", "Filter", id="list.filter"),
        Binding("m", "load_more", "More", id="list.more"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = JobFilter()
        self.shown: list[Job] = []
        self.next_cursor: int | None = None
        self._query = 0
        """Bumped when the filter or month changes, so a stale page is dropped."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield from self.compose_top()
        yield FilterBar(self.FILTER_FIELDS, id="filter-bar")
        yield KeyedTable(self.COLUMNS, id="jobs")
        yield Static("", id="list-footer", classes="list-footer")
        yield Footer(compact=True)

    def compose_top(self) -> ComposeResult:
        """Widgets above the filter bar (the archive's month selector)."""
        yield from ()

    def on_mount(self) -> None:
        self.query_one(FilterBar).display = False
        self.query_one(KeyedTable).focus()
        super().on_mount()

    @abstractmethod
    async def fetch_page(self, cursor: int | None) -> Page[Job]:
        """One page of the list, after (or before) `cursor`."""

    @abstractmethod
    def make_row(self, job: Job) -> Row:
        """The table row showing `job`."""

    async def fetch(self) -> JobsLoaded:
        query = self._query
        message = JobsLoaded(await self.fetch_page(None))
        message.query = query
        return message

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        if message.query != self._query:
            return
        if message.append:
            self.shown = append_page(self.shown, message.page)
            self.next_cursor = message.page.next_cursor
        else:
            more_loaded = len(self.shown) > PAGE_SIZE
            self.shown = merge_first_page(self.shown, message.page, newest_first=self.NEWEST_FIRST)
            if not more_loaded:
                self.next_cursor = message.page.next_cursor
        self.show_rows()
        self.loaded = True

    def show_rows(self) -> None:
        table = self.query_one(KeyedTable)
        table.sync([self.make_row(job) for job in self.shown])
        self.query_one("#list-footer", Static).update(self.footer_text())
        self.refresh_bindings()

    def footer_text(self) -> str:
        more = "  (m: load more)" if self.next_cursor is not None else ""
        active = self.filter != JobFilter()
        described = "  filter: " + describe(self.filter) if active else ""
        return f"{len(self.shown)} jobs shown{more}{described}"

    def selected_job(self) -> SelectedJob | None:
        key = self.query_one(KeyedTable).selected_key
        for job in self.shown:
            if str(job.id) == key:
                return SelectedJob(id=job.id, command=job.command, state=job.state)
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "load_more":
            return True if self.next_cursor is not None else None
        return super().check_action(action, parameters)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_job()

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def on_filter_bar_applied(self, message: FilterBar.Applied) -> None:
        self.filter = message.filter
        self.restart()
        self.query_one(KeyedTable).focus()

    def on_filter_bar_closed(self, message: FilterBar.Closed) -> None:
        self.query_one(KeyedTable).focus()

    def restart(self) -> None:
        """The query changed: drop the rows and fetch the first page again."""
        self._query += 1
        self.shown = []
        self.next_cursor = None
        self.loaded = False
        self.show_rows()
        self.request_refresh()

    def action_load_more(self) -> None:
        if self.next_cursor is not None:
            self.run_worker(self._load_more(self.next_cursor), exclusive=True, group="more")

    async def _load_more(self, cursor: int) -> None:
        query = self._query
        message = JobsLoaded(await self.fetch_page(cursor), append=True)
        message.query = query
        self.post_message(message)


def describe(flt: JobFilter) -> str:
    """`command=send_email text=acme` for the fields that are set."""
    parts = [f"{name}={value}" for name in FILTER_NAMES if (value := getattr(flt, name))]
    return " ".join(parts)


FILTER_NAMES = ("command", "worker", "tag", "batch_id", "created_by", "user_id", "ref_id", "text")
