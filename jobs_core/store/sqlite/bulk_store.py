"""Bulk admin actions of `SqliteStore` (mixed into it): cancel, requeue and delete a batch
of jobs, each batch one transaction on the live store plus the month files it touches."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from functools import partial

from jobs_core.history import AttemptRow
from jobs_core.records import Job, JobState, JobSummary
from jobs_core.store.protocol import BulkOutcome

from . import bulk, summaries
from .month_reader import month_of
from .parts import StoreParts


class BulkStoreMixin(StoreParts):
    """Contracts are stated on `Store` (jobs_core/store/protocol.py)."""

    async def cancel_jobs(self, job_ids: list[int], reason: str, now: int) -> BulkOutcome:
        done, asked, skipped = await self._write(
            lambda conn: bulk.cancel(conn, job_ids, reason, now, self._max_log)
        )
        return BulkOutcome(done=done, asked=asked, skipped=skipped)

    async def requeue_jobs(self, job_ids: list[int], now: int) -> BulkOutcome:
        found = await self._read(lambda conn: summaries.summaries(conn, job_ids))
        level = [s for s in found.values() if s.state in (JobState.FAILED, JobState.CANCELLED)]
        done: list[int] = []
        wait_on: dict[int, int] = {}
        while level:
            requeued = await self._requeue_level(level, now, wait_on)
            done += requeued
            # Dependents their failure cancelled come back too, waiting for them again.
            wait_on = await self._read(partial(bulk.cancelled_dependents, job_ids=requeued))
            found_next = await self._read(partial(summaries.summaries, job_ids=list(wait_on)))
            level = list(found_next.values())
        changed = set(done)
        return BulkOutcome(done=done, skipped=[i for i in job_ids if i not in changed])

    async def _requeue_level(
        self, found: list[JobSummary], now: int, wait_on: dict[int, int]
    ) -> list[int]:
        by_month: dict[str, list[JobSummary]] = defaultdict(list)
        for summary in found:
            if summary.completed_date is not None:
                by_month[month_of(summary.completed_date)].append(summary)
        archived: dict[int, Job] = {}
        archived_rows: dict[int, list[AttemptRow]] = {}
        reader = self._archive.reader
        for month, in_month in by_month.items():
            rows = await asyncio.to_thread(
                reader.read_jobs, month, "failed_job", [s.id for s in in_month]
            )
            archived.update((job.id, job) for job in rows)
            for job in rows:  # their history comes back with them (a read per job: rare)
                archived_rows[job.id] = await asyncio.to_thread(reader.read_attempts, month, job.id)
        requeued = await self._write(
            lambda conn: bulk.requeue(
                conn, found, archived, now, wait_on, self._max_log, archived_rows
            )
        )
        done = set(requeued)
        for month, in_month in by_month.items():
            ids = [s.id for s in in_month if s.id in done]
            if ids:
                await self._in_archive(
                    partial(self._archive.delete_rows, month, ids, ("failed_job",))
                )
        return requeued

    async def delete_jobs(self, job_ids: list[int], now: int) -> BulkOutcome:
        found = await self._read(lambda conn: summaries.summaries(conn, job_ids))
        by_month: dict[str, list[int]] = defaultdict(list)
        for summary in found.values():
            if summary.completed_date is not None:
                by_month[month_of(summary.completed_date)].append(summary.id)
        # Month rows first: a crash before the summaries go leaves a summary without its
        # row (as after removing a month file), never a row nothing points to.
        await self._delete_month_rows(by_month)
        deleted, skipped = await self._write(lambda conn: bulk.delete(conn, job_ids))
        # The archiver may have copied one of them meanwhile: remove such copies too.
        gone = set(deleted)
        await self._delete_month_rows({m: [i for i in ids if i in gone]
                                       for m, ids in by_month.items()})  # fmt: skip
        return BulkOutcome(done=deleted, skipped=skipped)

    async def _delete_month_rows(self, by_month: dict[str, list[int]]) -> None:
        for month, ids in by_month.items():
            if ids:
                await self._in_archive(partial(self._archive.delete_rows, month, ids))
