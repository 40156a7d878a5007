"""Admin reads and single-job actions of `SqliteStore` (mixed into it): lookups, listings by
query (one table or everywhere), counts, cancel and requeue."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from jobs_core.errors import StoreError
from jobs_core.history import AttemptRow
from jobs_core.query import JobQuery
from jobs_core.records import (
    BatchStatus,
    Job,
    JobResult,
    JobState,
    JobSummary,
    MonthDatabase,
    Page,
    ThroughputBucket,
)
from jobs_core.store.paging import merge
from jobs_core.store.protocol import DurationTally

from . import admin, search, summaries, tallies
from .month_reader import month_of, select_of, table_for
from .parts import StoreParts

R = TypeVar("R")


class AdminStoreMixin(StoreParts):
    """Admin methods of the SQLite store; contracts are stated on `Store`
    (jobs_core/store/protocol.py). Uses the store's `_read`, `_write` and archive."""

    # -- lookups ----------------------------------------------------------------------------

    async def get_job(self, job_id: int) -> JobResult | None:
        found = await self._read(lambda conn: summaries.summary(conn, job_id))
        return await self._result(found)

    async def get_job_by_ref(self, ref_id: str) -> JobResult | None:
        found = await self._read(lambda conn: summaries.summary_by_ref(conn, ref_id))
        return await self._result(found)

    async def _result(self, found: JobSummary | None) -> JobResult | None:
        if found is None:
            return None
        job = await self._read(lambda conn: admin.live_job(conn, found.id))
        if job is None and found.completed_date is not None:
            month = month_of(found.completed_date)
            job = await self._read_archived(month, found.state, found.id)
        if job is None:
            return JobResult(summary=found)
        if job.state is JobState.COMPLETED:
            return JobResult(summary=found, completed=job)
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            return JobResult(summary=found, failed=job)
        return JobResult(summary=found, queued=job)

    async def _read_archived(self, month: str, state: JobState, job_id: int) -> Job | None:
        try:
            return await asyncio.to_thread(self._archive.reader.read_job, month, state, job_id)
        except StoreError as error:
            raise StoreError(
                f"job {job_id} is archived in a month file that cannot be read: {error}"
            ) from None

    async def _read_month_attempts(self, month: str, job_id: int) -> list[AttemptRow]:
        return await asyncio.to_thread(self._archive.reader.read_attempts, month, job_id)

    # -- single-job actions -----------------------------------------------------------------

    async def request_cancel(self, job_id: int, reason: str, now: int) -> JobState:
        return await self._write(
            lambda conn: admin.request_cancel(conn, job_id, reason, now, self._max_log)
        )

    async def requeue(self, job_id: int, now: int) -> list[int]:
        """Requeue a failed/cancelled job and the dependents its failure cancelled.

        Returns the ids requeued, the job first.
        """
        requeued: list[int] = []
        pending: list[tuple[int, int | None]] = [(job_id, None)]
        while pending:
            current, parent = pending.pop(0)
            await self._requeue_one(current, parent, now)
            requeued.append(current)
            dependents = await self._read(partial(admin.dependents_cancelled_by, job_id=current))
            pending.extend((d.id, current) for d in dependents)
        return requeued

    async def _requeue_one(self, job_id: int, wait_on: int | None, now: int) -> None:
        found = admin.check_requeueable(
            await self._read(lambda conn: summaries.summary(conn, job_id)), job_id
        )
        archived: Job | None = None
        archived_rows: list[AttemptRow] = []
        month: str | None = None
        if found.completed_date is not None:
            month = month_of(found.completed_date)
            archived = await self._read_archived(month, found.state, job_id)
            if archived is not None:
                archived_rows = await self._read_month_attempts(month, job_id)

        def requeue(conn: sqlite3.Connection) -> None:
            if not admin.requeue_with_history(
                conn, job_id, archived, archived_rows, now, self._max_log
            ):
                raise StoreError(
                    f"job {job_id} cannot be requeued: its row is in neither the queue nor "
                    f"the month database jobs_{month}.db (was the file removed?)"
                )
            admin.after_requeue(conn, job_id, found.state)
            if wait_on is not None:
                admin.wait_on(conn, job_id, wait_on)

        await self._write(requeue)
        if archived is not None and month is not None:
            await self._in_archive(lambda: self._archive.delete_failed(month, job_id))

    # -- listings ---------------------------------------------------------------------------

    async def list_queue(self, query: JobQuery, cursor: int | None, limit: int) -> Page[Job]:
        return await self._read(lambda conn: search.list_queue(conn, query, cursor, limit))

    async def list_archive(
        self, month: str, kind: JobState, query: JobQuery, cursor: int | None, limit: int
    ) -> Page[Job]:
        page = await self._in_month(month, table_for(kind), search.page_of, query, cursor, limit)
        return page or Page(items=[], next_cursor=None)

    async def find_jobs(self, query: JobQuery, cursor: int | None, limit: int) -> Page[Job]:
        return await self._find(query, cursor, limit, ids_only=False)

    async def find_job_ids(self, query: JobQuery, cursor: int | None, limit: int) -> Page[int]:
        return await self._find(query, cursor, limit, ids_only=True)

    async def _find(
        self, query: JobQuery, cursor: int | None, limit: int, *, ids_only: bool
    ) -> Page[Any]:
        live = await self._read(
            lambda conn: search.page_of(
                search.Source(conn, "background_job", month_file=False), query, cursor, limit,
                ids_only=ids_only,
            )
        )  # fmt: skip
        pages = [live]
        for month, table in await self._month_tables(query):
            page = await self._in_month(
                month, table, search.page_of, query, cursor, limit, ids_only=ids_only
            )
            if page is not None:
                pages.append(page)
        return merge(pages, limit)

    async def count_jobs(self, query: JobQuery) -> int:
        total = await self._read(
            lambda conn: search.count_of(search.Source(conn, "background_job", False), query)
        )
        for month, table in await self._month_tables(query):
            total += await self._in_month(month, table, search.count_of, query) or 0
        return total

    async def _month_tables(self, query: JobQuery) -> list[tuple[str, str]]:
        return search.month_tables([m.month for m in await self.months()], query)

    async def _in_month(
        self, month: str, table: str, fn: Callable[..., R], *args: Any, **kwargs: Any
    ) -> R | None:
        """`fn(source, *args)` on a month's `table`, in a worker thread; None if the month
        has no file. StoreError naming the file if it cannot be read."""

        def run(conn: sqlite3.Connection) -> R:
            source = search.Source(conn, table, month_file=True, columns=select_of(conn))
            return fn(source, *args, **kwargs)

        return await asyncio.to_thread(self._archive.reader.run, month, run)

    # -- figures ----------------------------------------------------------------------------

    async def counts(self) -> dict[JobState, int]:
        return await self._read(admin.counts)

    async def months(self) -> list[MonthDatabase]:
        return await asyncio.to_thread(self._archive.months)

    async def throughput(self, since: int, now: int) -> list[ThroughputBucket]:
        return await self._read(lambda conn: admin.throughput(conn, since))

    async def batch_status(self, batch_id: str) -> BatchStatus:
        return await self._read(lambda conn: admin.batch_status(conn, batch_id))

    async def dependents(self, job_id: int) -> list[JobSummary]:
        return await self._read(partial(admin.dependents, job_id=job_id))

    async def duration_tallies(self, since: int, now: int) -> list[DurationTally]:
        return await self._read(lambda conn: tallies.read(conn, since, now))

    async def command_throughput(
        self, command: str, since: int, now: int
    ) -> list[ThroughputBucket]:
        return await self._read(lambda conn: tallies.throughput(conn, command, since, now))

    async def children(self, job_id: int) -> list[JobSummary]:
        return await self._read(partial(admin.children, job_id=job_id))

    async def blocked_by(self, job_ids: list[int]) -> dict[int, int]:
        return await self._read(lambda conn: admin.blocked_by(conn, job_ids))
