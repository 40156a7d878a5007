"""The live queue: queued and running jobs with progress bars, oldest first."""

from __future__ import annotations

from jobs_core import ACTIVE_STATES, Job, JobState, Page
from jobs_tui.list_window import PAGE_SIZE
from jobs_tui.messages import JobsLoaded
from jobs_tui.screens.job_list import JobListScreen
from jobs_tui.widgets.job_rows import QUEUE_COLUMNS, queue_row
from jobs_tui.widgets.keyed_table import Row


class QueueScreen(JobListScreen):
    """Jobs waiting or running; refreshes on every change and each second (elapsed)."""

    MODE = "queue"
    COLUMNS = QUEUE_COLUMNS
    NEWEST_FIRST = False
    SCOPE = ACTIVE_STATES

    async def fetch(self) -> JobsLoaded:
        pages = await self.fetch_window()
        queued = [job for _, page in pages for job in page.items if job.state is JobState.QUEUED]
        waiting = [job.id for job in queued if job.depends_on is not None]
        blocked = await self.jobs.blocked_by(waiting) if waiting else {}
        why = await self.jobs.why_waiting_many([job.id for job in queued]) if queued else {}
        return JobsLoaded(pages, blocked_by=blocked, why=why)

    def ticks(self) -> bool:
        return bool(self.shown)  # elapsed clocks, "due in", "retry in"

    async def fetch_page(self, cursor: int | None, limit: int = PAGE_SIZE) -> Page[Job]:
        return await self.jobs.list_queue(self.filter, cursor=cursor, limit=limit)

    def make_row(self, job: Job) -> Row:
        return queue_row(
            job, self.now_ms(), self.health, self.blocked_by.get(job.id), self.palette(),
            self.why.get(job.id),
        )  # fmt: skip
