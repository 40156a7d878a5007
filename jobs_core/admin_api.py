"""The query and admin API of `BackgroundJobs`: what the admin app and the CLI use."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .clock import Clock
from .errors import InvalidStateError, JobNotFoundError, JobsError, StoreError
from .estimate import ProgressEstimator
from .figures import command_figures
from .limits import check_job_id, check_page_limit
from .liveness import checked_on_this_host
from .query import JobQuery
from .records import (
    BatchStatus,
    CommandFigures,
    EngineInfo,
    ExposedFile,
    Job,
    JobFilter,
    JobResult,
    JobState,
    JobSummary,
    MonthDatabase,
    Page,
    RunningJob,
    ThroughputBucket,
)
from .reply_to import mask_reply_to
from .store.history_protocol import HistoryStore
from .store.protocol import FileStore, Store

if TYPE_CHECKING:
    from .engine.engine import Engine

QueryLike = JobQuery | JobFilter | str | None
"""What the listing methods accept: a query, its text (`state:failed command:x`), a
`JobFilter`, or None for every job."""


class AdminMixin:
    """Lookups, listings, counts, cancel and requeue; reply_to secrets come back masked."""

    store: Store
    clock: Clock
    _engine: Engine | None
    _progress_estimator: ProgressEstimator

    if TYPE_CHECKING:

        def _changed_here(self) -> None: ...

    async def get_job(self, job_id: int) -> JobResult:
        """The job's summary plus its full row wherever it lives; JobNotFoundError if none.

        A running job that reports no progress gets an estimate (`progress_estimated`)."""
        check_job_id(job_id)
        found = await self.store.get_job(job_id)
        if found is None:
            raise JobNotFoundError(f"there is no job {job_id}")
        if found.queued is not None and found.queued.state is JobState.STARTED:
            (queued,) = await self._estimator().fill([found.queued], self.clock.now_ms())
            found = dataclasses.replace(found, queued=queued)
        return _masked_result(found)

    async def get_job_by_ref(self, ref_id: str) -> JobResult:
        found = await self.store.get_job_by_ref(ref_id)
        if found is None:
            raise JobNotFoundError(f"there is no job with ref_id '{ref_id}'")
        return _masked_result(found)

    async def cancel(self, job_id: int, reason: str = "cancelled by operator") -> JobState:
        """Cancel a queued job now, or ask the engine running it to stop (any process).

        Returns `cancelled`, or `started` when a running job was asked to stop.
        """
        check_job_id(job_id)
        if self._engine is not None and self._engine.cancel_running(job_id, reason):
            return JobState.STARTED
        state = await self.store.request_cancel(job_id, reason, self.clock.now_ms())
        self._changed_here()
        return state

    async def requeue(self, job_id: int) -> list[int]:
        """Requeue a failed or cancelled job (attempts reset) and the dependents its failure
        cancelled; returns the requeued ids. A job whose unique key another job holds now
        (queued or running) is refused with InvalidStateError."""
        check_job_id(job_id)
        try:
            ids = await self.store.requeue(job_id, self.clock.now_ms())
        except StoreError as error:
            # The unique index over queued and started jobs refused it (either backend).
            if "unique_key" not in str(error) and "ux_job_unique" not in str(error):
                raise
            raise InvalidStateError(
                f"job {job_id} cannot be requeued: another job with its unique key is queued "
                "or running (requeue it once that one has finished)"
            ) from None
        self._changed_here()
        if self._engine is not None:
            self._engine.wake()
        return ids

    def query(self, query: QueryLike = None) -> JobQuery:
        """`query` read (text is parsed: `InvalidQueryError` names a bad term) and its ages
        (`since:2h`) measured from now."""
        return JobQuery.coerce(query).at(self.clock.now_ms())

    async def list_queue(
        self, query: QueryLike = None, *, cursor: int | None = None, limit: int = 50
    ) -> Page[Job]:
        """Jobs in the queue (queued, started, executed) matching `query`, oldest first; a
        running job that reports no progress gets an estimate (`progress_estimated`)."""
        check_page_limit(limit)
        page = await self.store.list_queue(self.query(query), cursor, limit)
        items = await self._estimator().fill(page.items, self.clock.now_ms())
        return masked_page(Page(items=items, next_cursor=page.next_cursor))

    async def list_completed(
        self, month: str, query: QueryLike = None, *, cursor: int | None = None,
        limit: int = 50,
    ) -> Page[Job]:  # fmt: skip
        """Completed jobs of a month (`YYYY-MM`) matching `query`, newest first."""
        check_page_limit(limit)
        page = await self.store.list_archive(
            month, JobState.COMPLETED, self.query(query), cursor, limit
        )
        return masked_page(page)

    async def list_failed(
        self, month: str, query: QueryLike = None, *, cursor: int | None = None,
        limit: int = 50,
    ) -> Page[Job]:  # fmt: skip
        """Failed and cancelled jobs of a month (`YYYY-MM`) matching `query`, newest first."""
        check_page_limit(limit)
        page = await self.store.list_archive(
            month, JobState.FAILED, self.query(query), cursor, limit
        )
        return masked_page(page)

    async def find_jobs(
        self, query: QueryLike = None, *, cursor: int | None = None, limit: int = 50
    ) -> Page[Job]:
        """Jobs matching `query` in the queue and every month, newest first. Without an
        index for the query a page may be short yet have a `next_cursor` (a bounded scan of
        each month); keep paging until `next_cursor` is None."""
        check_page_limit(limit)
        return masked_page(await self.store.find_jobs(self.query(query), cursor, limit))

    async def count_jobs(self, query: QueryLike = None) -> int:
        """How many jobs match `query` in the queue and every month (may scan)."""
        return await self.store.count_jobs(self.query(query))

    async def counts(self) -> dict[JobState, int]:
        """Number of jobs in each state, all time."""
        return await self.store.counts()

    async def months(self) -> list[MonthDatabase]:
        """The monthly archive databases, newest first."""
        return await self.store.months()

    async def engines(self) -> list[EngineInfo]:
        """Engines, newest first, with their state: alive, stale (heartbeats overdue), dead
        (gone without stopping; on this host known at once from its absent process) or
        stopped."""
        return checked_on_this_host(await self.store.engines(self.clock.now_ms()))

    async def exposed_files(self) -> list[ExposedFile]:
        """The store's directory and files that other users can read (empty when the
        store is not kept in local files); each says the command that fixes it."""
        if isinstance(self.store, FileStore):
            return await asyncio.to_thread(self.store.exposed_files)
        return []

    async def running_jobs(self) -> list[RunningJob]:
        """Jobs running now; one that reports no progress gets an estimate from the median
        duration of its command's recent completions (`progress_estimated`)."""
        running = await self.store.running_jobs()
        return await self._estimator().fill(running, self.clock.now_ms())

    def _estimator(self) -> ProgressEstimator:
        estimator: ProgressEstimator | None = getattr(self, "_progress_estimator", None)
        if estimator is None:
            estimator = ProgressEstimator(self._recent_durations)
            self._progress_estimator = estimator
        return estimator

    async def _recent_durations(self, command: str, limit: int) -> list[int]:
        if isinstance(self.store, HistoryStore):
            return await self.store.recent_durations(command, limit)
        return []

    async def throughput(self, minutes: int = 15) -> list[ThroughputBucket]:
        now = self.clock.now_ms()
        return await self.store.throughput(now - minutes * 60_000, now)

    async def command_figures(self, minutes: int = 15) -> list[CommandFigures]:
        """Per command over the last `minutes`: completed, failed and cancelled jobs, and
        p50/p95 durations (from duration histograms, so as fast at any archive size);
        busiest first."""
        now = self.clock.now_ms()
        return command_figures(await self.store.duration_tallies(now - minutes * 60_000, now))

    async def command_throughput(self, command: str, minutes: int = 60) -> list[ThroughputBucket]:
        """Jobs of `command` finished per minute over the last `minutes`, by state."""
        now = self.clock.now_ms()
        return await self.store.command_throughput(command, now - minutes * 60_000, now)

    async def batch_status(self, batch_id: str) -> BatchStatus:
        return await self.store.batch_status(batch_id)

    async def cancel_batch(self, batch_id: str, reason: str = "batch cancelled") -> list[int]:
        """Close the batch and cancel its unfinished jobs; returns their ids.

        From then on, enqueueing into the batch raises BatchCancelledError (from any process).
        Callbacks and replies of its jobs that already ran are still enqueued and run, so no
        finished job loses its result; requeue by an operator still works.
        """
        ids = await self.store.cancel_batch(batch_id, reason, self.clock.now_ms())
        for job_id in ids:
            try:
                await self.cancel(job_id, reason)
            except JobsError:
                continue  # it finished meanwhile
        return list(ids)

    async def dependents(self, job_id: int) -> list[JobSummary]:
        check_job_id(job_id)
        return await self.store.dependents(job_id)

    async def children(self, job_id: int) -> list[JobSummary]:
        """Jobs whose parent is `job_id`: its callback, its reply, jobs its handler started,
        and jobs enqueued with `depends_on=job_id` (their parent unless one is given)."""
        check_job_id(job_id)
        return await self.store.children(job_id)

    async def blocked_by(self, job_ids: Sequence[int]) -> dict[int, int]:
        """Of `job_ids`, the queued jobs still waiting for the job they depend on, each
        mapped to that job's id (why a queued job does not run yet)."""
        return await self.store.blocked_by(list(job_ids))

    def change_token(self) -> int:
        """Changes whenever another process commits to the store; cheap to poll."""
        return self.store.change_token()


def _masked(job: Job | None) -> Job | None:
    """The job with its reply_to secrets masked, for everything but the handler itself."""
    if job is None or not job.reply_to:
        return job
    return dataclasses.replace(job, reply_to=mask_reply_to(job.reply_to))


def _masked_result(result: JobResult) -> JobResult:
    return dataclasses.replace(
        result,
        queued=_masked(result.queued),
        completed=_masked(result.completed),
        failed=_masked(result.failed),
    )


def masked_page(page: Page[Job]) -> Page[Job]:
    return Page(items=[_masked(j) or j for j in page.items], next_cursor=page.next_cursor)
