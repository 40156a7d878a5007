"""Bulk admin actions of `BackgroundJobs`: cancel, requeue or delete many jobs, named by ids
or by a query, in batches (one transaction each), safe while engines run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from .clock import Clock
from .errors import InvalidStateError, JobNotFoundError
from .limits import beyond_ids, check_job_id
from .query import JobQuery
from .records import BulkResult, JobFilter
from .store.protocol import BulkOutcome, Store

if TYPE_CHECKING:
    from .engine.engine import Engine

BULK_BATCH = 200
"""Jobs changed per transaction: short enough that engines wait for it well under a
millisecond per job, long enough to amortise the commit."""

Target = Sequence[int] | JobQuery | JobFilter | str
"""The jobs a bulk action applies to: ids, or everything a query matches (anywhere)."""
Progress = Callable[[int, int], object]
"""Called after each batch with (jobs processed so far, jobs in all)."""


class BulkMixin:
    """`bulk_cancel`, `bulk_requeue`, `bulk_delete` and `delete`."""

    store: Store
    clock: Clock
    _engine: Engine | None

    async def bulk_cancel(
        self, target: Target, *, reason: str = "cancelled by operator",
        progress: Progress | None = None, batch_size: int = BULK_BATCH,
    ) -> BulkResult:  # fmt: skip
        """Cancel queued jobs and ask engines to stop running ones; others are skipped."""

        async def cancel(ids: list[int]) -> BulkOutcome:
            outcome = await self.store.cancel_jobs(ids, reason, self.clock.now_ms())
            if self._engine is not None:
                for job_id in outcome.asked:
                    self._engine.cancel_running(job_id, reason)
            return outcome

        return await self._bulk(target, cancel, progress, batch_size)

    async def bulk_requeue(
        self, target: Target, *, progress: Progress | None = None, batch_size: int = BULK_BATCH
    ) -> BulkResult:
        """Requeue failed and cancelled jobs (attempts reset) with the dependents their
        failure cancelled; others are skipped."""

        async def requeue(ids: list[int]) -> BulkOutcome:
            outcome = await self.store.requeue_jobs(ids, self.clock.now_ms())
            if self._engine is not None and outcome.done:
                self._engine.wake()
            return outcome

        return await self._bulk(target, requeue, progress, batch_size)

    async def bulk_delete(
        self, target: Target, *, progress: Progress | None = None, batch_size: int = BULK_BATCH
    ) -> BulkResult:
        """Delete finished jobs for good (row and summary; all-time counts drop by them;
        throughput history stays; ids are never given again). Unfinished jobs are skipped."""

        async def delete(ids: list[int]) -> BulkOutcome:
            return await self.store.delete_jobs(ids, self.clock.now_ms())

        return await self._bulk(target, delete, progress, batch_size)

    async def delete(self, job_id: int) -> None:
        """Delete one finished job for good (see `bulk_delete`)."""
        check_job_id(job_id)
        outcome = await self.store.delete_jobs([job_id], self.clock.now_ms())
        if outcome.done:
            return
        found = await self.store.get_job(job_id)
        if found is None:
            raise JobNotFoundError(f"there is no job {job_id}")
        raise InvalidStateError(
            f"job {job_id} is {found.state}; only completed, failed or cancelled jobs "
            "can be deleted"
        )

    async def _bulk(
        self, target: Target, action: Callable[[list[int]], Awaitable[BulkOutcome]],
        progress: Progress | None, batch_size: int,
    ) -> BulkResult:  # fmt: skip
        batch_size = max(1, batch_size)
        if isinstance(target, JobQuery | JobFilter | str):
            query = JobQuery.coerce(target).at(self.clock.now_ms())
            total = await self.store.count_jobs(query)
            batches = self._query_batches(query, batch_size)
        else:
            ids = list(dict.fromkeys(target))
            total = len(ids)
            named = [i for i in ids if not beyond_ids(i)]  # others name no job: skipped
            batches = _id_batches(named, batch_size)
        processed = done = asked = skipped = 0
        if progress is not None:
            progress(0, total)
        async for batch in batches:
            outcome = await action(batch)
            processed += len(batch)
            done, asked = done + len(outcome.done), asked + len(outcome.asked)
            skipped += len(outcome.skipped)
            if progress is not None:
                progress(min(processed, max(total, processed)), max(total, processed))
        if not isinstance(target, JobQuery | JobFilter | str) and processed < total:
            skipped += total - processed  # the ids beyond MAX_ID, never sent to the store
            if progress is not None:
                progress(total, total)
        return BulkResult(matched=max(total, processed), done=done, asked=asked, skipped=skipped)

    async def _query_batches(self, query: JobQuery, size: int) -> AsyncIterator[list[int]]:
        """The ids `query` matches, newest first, a batch at a time. Keyset paging below the
        last id read, so jobs the action moves (requeued, deleted) never shift the pages."""
        cursor: int | None = None
        while True:
            page = await self.store.find_job_ids(query, cursor, size)
            if page.items:
                yield page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


async def _id_batches(ids: list[int], size: int) -> AsyncIterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
