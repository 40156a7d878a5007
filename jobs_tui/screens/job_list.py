"""The base of the queue and archive views: a keyed job table over a `JobWindow`, a filter,
"load more", a preview of the selected job and the notices when rows come and go."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from jobs_core import Job, JobQuery, Page, WaitInfo
from jobs_tui.list_window import Fetch, JobWindow, nearest
from jobs_tui.messages import JobsLoaded
from jobs_tui.screens.base import DataScreen, SelectedJob
from jobs_tui.screens.marking import MarkingScreen
from jobs_tui.widgets.filter_bar import FilterBar
from jobs_tui.widgets.job_rows import SORT_KEYS
from jobs_tui.widgets.keyed_table import Column, KeyedTable, Row

MARK_COLUMN = Column("mark", "", 1, keep=11)
"""A narrow first column showing ● on marked rows."""


class JobListScreen(MarkingScreen):
    """A window of a job list; refreshes it, follows the top or holds still under the
    operator, keeps the cursor on its job."""

    COLUMNS: ClassVar[list[Column]] = []
    NEWEST_FIRST: ClassVar[bool] = True

    BINDINGS = [
        Binding("enter", "open_job", "Open", show=False, id="list.open"),
        *DataScreen.JOB_BINDINGS,
        Binding("slash", "filter", "Filter", id="list.filter"),
        Binding("m", "load_more", "More", id="list.more"),
        *MarkingScreen.MARK_BINDINGS,
        DataScreen.COPY_BINDING,
        Binding("s", "sort", "Sort by next column", show=False, id="list.sort"),
        Binding("S", "reverse_sort", "Reverse the sort", show=False, id="list.sort_reverse"),
        Binding("g,home", "top", "Top", show=False, id="list.top"),
        Binding("escape", "back", "Back", show=False, id="list.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.window = JobWindow(newest_first=self.NEWEST_FIRST)
        self.blocked_by: dict[int, int] = {}
        self.why: dict[int, WaitInfo] = {}
        """Queued jobs waiting for a parent (queue view): job id → parent id."""
        self.sort: tuple[str, bool] | None = None
        """Column the loaded rows are sorted by, and whether descending; None: list order."""

    @property
    def shown(self) -> list[Job]:
        """The jobs in the window, in the order shown."""
        return self.window.rows

    def compose_body(self) -> ComposeResult:
        yield from self.compose_top()
        yield FilterBar(self.jobs_app.known, id="filter-bar")
        yield KeyedTable([MARK_COLUMN, *self.COLUMNS], id="jobs")
        yield Static("", id="preview", markup=False)
        yield Static("", id="list-footer", classes="list-footer", markup=False)

    def compose_top(self) -> ComposeResult:
        """Widgets above the filter bar (the archive's month selector)."""
        yield from ()

    def on_mount(self) -> None:
        self.query_one(FilterBar).display = False
        self.query_one(KeyedTable).focus()
        super().on_mount()

    @abstractmethod
    async def fetch_page(self, cursor: int | None, limit: int) -> Page[Job]:
        """One page of the list after `cursor` (exclusive; None: from the top)."""

    @abstractmethod
    def make_row(self, job: Job) -> Row:
        """The table row showing `job`."""

    # -- fetching ---------------------------------------------------------------------------

    async def fetch(self) -> JobsLoaded:
        self._follow_or_hold()
        pages = await self.fetch_window()
        return JobsLoaded(pages)

    async def fetch_window(self) -> list[tuple[Fetch, Page[Job]]]:
        """The refresh page and, while holding still, the probe of the top."""
        fetches = [self.window.refresh_fetch()]
        probe = self.window.probe_fetch()
        if probe is not None:
            fetches.append(probe)
        return [(f, await self.fetch_page(f.cursor, f.limit)) for f in fetches]

    def _follow_or_hold(self) -> None:
        """Newest-first lists follow new rows only while the operator looks at their top."""
        if not self.NEWEST_FIRST:
            return
        at_top = self.query_one(KeyedTable).scroll_offset.y == 0
        if at_top:
            self.window.follow()
        else:
            self.window.hold()

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        table = self.query_one(KeyedTable)
        before = [int(key) for key in table.keys]
        selected = table.selected_key
        self.blocked_by = message.blocked_by or self.blocked_by
        self.why = message.why or self.why
        dropped: list[int] = []
        for fetch, page in message.pages:
            applied = self.window.apply(fetch, page)
            if applied is None:
                continue
            dropped += applied.dropped
            if applied.refetch or fetch.kind == "more":
                self.request_refresh()
        self.loaded = self.window.loaded or self.loaded
        self.show_rows(self._reselect(before, selected, dropped))
        self.jobs_app.learn(_values(self.shown))

    def _reselect(self, before: list[int], selected: str | None, dropped: list[int]) -> str | None:
        """Where the cursor goes when its job is no longer shown; says so if it left."""
        if selected is None or not selected.isdigit():
            return None
        present = {job.id for job in self.shown}
        job_id = int(selected)
        if job_id in present:
            return None
        if job_id not in dropped and job_id in before:
            self.notify(f"Job {job_id} left the list", timeout=4)
        target = nearest(before, present, job_id)
        return None if target is None else str(target)

    # -- showing ----------------------------------------------------------------------------

    def show_rows(self, select: str | None = None) -> None:
        table = self.query_one(KeyedTable)
        table.set_sort(*(self.sort or (None, False)))
        table.sync([self._marked_row(job) for job in self.ordered()], select=select)
        self.query_one("#list-footer", Static).update(self.footer_text())
        self._show_preview()
        self.refresh_footer()

    def ordered(self) -> list[Job]:
        """The loaded rows in the order shown: the list's, or sorted by a column."""
        if self.sort is None:
            return self.shown
        column, descending = self.sort
        return sorted(self.shown, key=SORT_KEYS[column], reverse=descending)

    def action_sort(self) -> None:
        """`s`: sort the loaded rows by the next column shown; after the last, list order."""
        table = self.query_one(KeyedTable)
        columns = [c.key for c in self.COLUMNS if c.key in SORT_KEYS and table.shows(c.key)]
        current = self.sort[0] if self.sort else None
        following = columns[columns.index(current) + 1 :] if current in columns else columns
        self.sort = (following[0], False) if following else None
        self.show_rows()

    def action_reverse_sort(self) -> None:
        if self.sort is not None:
            self.sort = (self.sort[0], not self.sort[1])
            self.show_rows()

    def _marked_row(self, job: Job) -> Row:
        key, cells = self.make_row(job)
        if job.id in self.marks:
            cells = {**cells, "mark": "●"}
        return key, cells

    def health_changed(self) -> None:
        self.show_rows()

    def marks_changed(self) -> None:
        self.show_rows()

    def loaded_ids(self) -> list[int]:
        return self.window.ids()

    def footer_text(self) -> str:
        count = len(self.shown)
        parts = [f"{count:,} job{'' if count == 1 else 's'} shown"]
        if self.window.more_cursor is not None:
            parts.append("m: more")
        above = self.window.above_text()
        if above:
            parts.append(f"{above} above: g goes to the top")
        if self.marks:
            parts.append(self.marks.describe() + " (c r d act on them, esc clears)")
        if self.filter:
            parts.append(f"filter: {self.filter} (esc clears)")
        if self.sort is not None:
            arrow = "▼" if self.sort[1] else "▲"
            parts.append(f"sorted by {self.sort[0]} {arrow} (the loaded rows; s, S)")
        return "  ·  ".join(parts)

    def _show_preview(self) -> None:
        """The selected job's whole error (a table cell shows only its start)."""
        job = self._selected()
        text = job.error.message if job is not None and job.error is not None else ""
        preview = self.query_one("#preview", Static)
        preview.display = bool(text)
        preview.update(text)

    def copy_source(self) -> Job | None:
        return self._selected()

    def _selected(self) -> Job | None:
        key = self.query_one(KeyedTable).selected_key
        return self.window.find(int(key)) if key and key.isdigit() else None

    def selected_job(self) -> SelectedJob | None:
        job = self._selected()
        if job is None:
            return None
        return SelectedJob(id=job.id, command=job.command, state=job.state)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "load_more":
            return True if self.window.more_cursor is not None else None
        if action == "top":
            return True if not self.window.following else None
        return super().check_action(action, parameters)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_preview()
        self.refresh_footer()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_job()

    # -- keys -------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def on_filter_bar_applied(self, message: FilterBar.Applied) -> None:
        self.filter = message.query
        self.query_one(FilterBar).display = False
        self.restart()
        self.query_one(KeyedTable).focus()

    def on_filter_bar_closed(self, message: FilterBar.Closed) -> None:
        self.query_one(KeyedTable).focus()

    def action_back(self) -> None:
        """Escape clears the marks first, then the filter, then goes back."""
        if self.clear_marks():
            return
        if self.filter:
            self.query_one(FilterBar).clear()
            self.filter = JobQuery()
            self.restart()
            return
        super().action_back()

    def restart(self) -> None:
        """The query changed: drop the rows and marks, and fetch the first page again."""
        self.marks.clear()
        self.window.reset()
        self.loaded = False
        self.show_rows()
        self.request_refresh()

    def action_top(self) -> None:
        self.window.jump_to_top()
        table = self.query_one(KeyedTable)
        table.scroll_to(y=0, animate=False)
        table.move_cursor(row=0)
        self.request_refresh()

    def action_load_more(self) -> None:
        fetch = self.window.more_fetch()
        if fetch is not None:
            self.run_worker(self._load_more(fetch), exclusive=True, group="more")

    async def _load_more(self, fetch: Fetch) -> None:
        self.post_message(JobsLoaded([(fetch, await self.fetch_page(fetch.cursor, fetch.limit))]))


def _values(jobs: list[Job]) -> dict[str, list[str]]:
    """Values of the query keys in `jobs`, for the filter's completions."""
    return {
        "command": [j.command for j in jobs], "tag": [j.tag or "" for j in jobs],
        "batch": [j.batch_id or "" for j in jobs], "worker": [j.worker for j in jobs],
        "user": [j.user_id or "" for j in jobs], "created_by": [j.created_by or "" for j in jobs],
    }  # fmt: skip
