"""The batch view: a batch's progress (counts by state, done of total, times) and its jobs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from jobs_core import BatchStatus, Job, JobQuery, Page
from jobs_tui.formatting import duration, progress_bar, timestamp
from jobs_tui.list_window import PAGE_SIZE
from jobs_tui.messages import BatchLoaded, JobsLoaded
from jobs_tui.screens.job_list import JobListScreen
from jobs_tui.widgets.job_rows import ARCHIVE_COLUMNS, archive_row
from jobs_tui.widgets.keyed_table import Row

BATCH_COLUMNS = [c for c in ARCHIVE_COLUMNS if c.key != "batch"]


def batch_text(status: BatchStatus, now: int) -> str:
    """Three lines: the batch record (state, name, callbacks); progress and counts; times
    and the failed jobs."""
    counts = ", ".join(f"{n:,} {state}" for state, n in sorted(status.counts.items()) if n)
    share = status.done / status.total if status.total else 0.0
    lines = [
        record_text(status),
        f"{progress_bar(share, 20)}  {status.done:,} of {status.total:,} done  ({counts})",
    ]
    times = []
    if status.started_at is not None:
        times.append(f"started {timestamp(status.started_at)}")
    if status.finished_at is not None:
        took = duration(status.finished_at - (status.started_at or status.finished_at))
        times.append(f"finished {timestamp(status.finished_at)} (took {took})")
    if status.failed_ids:
        failed = ", ".join(f"#{i}" for i in status.failed_ids[:10])
        times.append(f"failed: {failed}" + ("…" if len(status.failed_ids) > 10 else ""))
    if times:
        lines.append("  ·  ".join(times))
    return "\n".join(lines)


def record_text(status: BatchStatus) -> str:
    """The batch record in a line: its state (open, closed, finished, cancelled), name,
    announced total and callbacks, with the jobs they enqueued once it finished."""
    parts = [status.state.value]
    if status.name:
        parts.append(f"'{status.name}'")
    if status.declared_total is not None:
        parts.append(f"{status.declared_total:,} announced")
    if status.on_complete:
        parts.append(f"on complete: {status.on_complete}")
    if status.on_success:
        parts.append(f"on success: {status.on_success}")
    if status.callback_ids:
        parts.append("callbacks " + ", ".join(f"#{i}" for i in status.callback_ids))
    return "  ·  ".join(parts)


class BatchScreen(JobListScreen):
    """The jobs sharing one `batch_id`, newest first, with the batch's progress on top."""

    def __init__(self, batch_id: str) -> None:
        super().__init__()
        self.batch_id = batch_id

    COLUMNS = BATCH_COLUMNS

    def screen_title(self) -> str:
        return f"Batch {self.batch_id}"

    def compose_top(self) -> ComposeResult:
        yield Static("", id="batch-status", markup=False)

    def scope_query(self) -> JobQuery:
        return self.filter.with_term("batch", self.batch_id)

    async def fetch(self) -> JobsLoaded:
        self._follow_or_hold()
        pages = await self.fetch_window()
        return BatchLoaded(pages, status=await self.jobs.batch_status(self.batch_id))

    async def fetch_page(self, cursor: int | None, limit: int = PAGE_SIZE) -> Page[Job]:
        return await self.jobs.find_jobs(self.scope_query(), cursor=cursor, limit=limit)

    def on_batch_loaded(self, message: BatchLoaded) -> None:
        self.query_one("#batch-status", Static).update(batch_text(message.status, self.now_ms()))
        self.on_jobs_loaded(message)

    def make_row(self, job: Job) -> Row:
        return archive_row(job, self.palette())
