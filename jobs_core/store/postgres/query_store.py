"""What the admin app's rebuild (issue 12: the query language everywhere, bulk actions,
per-command figures) asks of a store, on PostgreSQL. Relations are answered; the rest is
not ported yet and raises a `StoreError` saying so (listings by exact fields work:
`query_filter.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn, TypeVar

from jobs_core.errors import StoreError
from jobs_core.query import JobQuery
from jobs_core.records import Job, JobSummary, Page, ThroughputBucket
from jobs_core.store.protocol import BulkOutcome, DurationTally

from .rows import LIVE_SUMMARY_FROM, LIVE_SUMMARY_SELECT, row_to_summary

if TYPE_CHECKING:
    from .database import Work

R = TypeVar("R")

CHILDREN = f"""
SELECT {LIVE_SUMMARY_SELECT} FROM {LIVE_SUMMARY_FROM} WHERE s.parent_id = $1 ORDER BY s.id
"""
BLOCKED_BY = """
SELECT id, waiting_on FROM background_job
WHERE id = ANY($1::bigint[]) AND waiting_on IS NOT NULL AND state = 'queued'
"""


class QueryStoreMixin:
    """Mixed into `PostgresStore`."""

    location: str

    if TYPE_CHECKING:

        async def _read(self, fn: Work[R]) -> R: ...

    async def children(self, job_id: int) -> list[JobSummary]:
        rows = await self._read(lambda c: c.fetch(CHILDREN, job_id))
        return [row_to_summary(r) for r in rows]

    async def blocked_by(self, job_ids: list[int]) -> dict[int, int]:
        rows = await self._read(lambda c: c.fetch(BLOCKED_BY, job_ids))
        return {r[0]: r[1] for r in rows}

    async def find_jobs(self, query: JobQuery, cursor: int | None, limit: int) -> Page[Job]:
        self._not_yet("searching every month by query")

    async def find_job_ids(self, query: JobQuery, cursor: int | None, limit: int) -> Page[int]:
        self._not_yet("searching every month by query")

    async def count_jobs(self, query: JobQuery) -> int:
        self._not_yet("counting jobs by query")

    async def cancel_jobs(self, job_ids: list[int], reason: str, now: int) -> BulkOutcome:
        self._not_yet("bulk cancel")

    async def requeue_jobs(self, job_ids: list[int], now: int) -> BulkOutcome:
        self._not_yet("bulk requeue")

    async def delete_jobs(self, job_ids: list[int], now: int) -> BulkOutcome:
        self._not_yet("deleting jobs")

    async def duration_tallies(self, since: int, now: int) -> list[DurationTally]:
        self._not_yet("per-command figures")

    async def command_throughput(
        self, command: str, since: int, now: int
    ) -> list[ThroughputBucket]:
        self._not_yet("per-command figures")

    def _not_yet(self, what: str) -> NoReturn:
        raise StoreError(f"{self.location}: {what} is not available on PostgreSQL yet")
