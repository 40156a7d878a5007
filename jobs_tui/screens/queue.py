"""The live queue: queued and running jobs with progress bars, oldest first."""

from __future__ import annotations

from jobs_core import Job, Page
from jobs_tui.screens.job_list import PAGE_SIZE, JobListScreen
from jobs_tui.widgets.job_rows import QUEUE_COLUMNS, queue_row
from jobs_tui.widgets.keyed_table import Row


class QueueScreen(JobListScreen):
    """Jobs waiting or running; refreshes on every change and each second (elapsed)."""

    TITLE_TEXT = "Queue"
    COLUMNS = QUEUE_COLUMNS
    FILTER_FIELDS = ["command", "worker", "tag", "batch_id", "created_by", "ref_id", "text"]
    NEWEST_FIRST = False

    def on_mount(self) -> None:
        self.sub_title = "Queue"
        super().on_mount()

    async def fetch_page(self, cursor: int | None) -> Page[Job]:
        return await self.jobs.list_queue(self.filter, cursor=cursor, limit=PAGE_SIZE)

    def make_row(self, job: Job) -> Row:
        return queue_row(job, self.now_ms())
