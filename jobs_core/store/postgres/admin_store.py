"""Admin reads and actions of `PostgresStore` (mixed into it): lookups, listings by query
(one table or everywhere), figures, single-job and bulk cancel, requeue and delete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from jobs_core.errors import StoreUnavailableError
from jobs_core.query import JobQuery
from jobs_core.records import (
    BatchStatus,
    CommandDefinition,
    Job,
    JobResult,
    JobState,
    JobSummary,
    MonthDatabase,
    Page,
    ThroughputBucket,
)
from jobs_core.store.protocol import BulkOutcome, DurationTally

from . import admin, archive, bulk, commands, lookup, search, tallies
from .connection import Conn
from .database import Database

R = TypeVar("R")
Work = Callable[[Conn], Awaitable[R]]


class AdminStoreMixin:
    """Admin methods of the PostgreSQL store; contracts are stated on `Store`
    (jobs_core/store/protocol.py)."""

    if TYPE_CHECKING:
        channel: str
        schema: str
        _db: Database
        _max_log: int

        async def _write(self, fn: Work[R]) -> R: ...

        async def _read(self, fn: Work[R]) -> R: ...

        async def _finishing(
            self, now: int, fn: Work[R], *, engine: bool = False, atomic: bool = True
        ) -> R: ...

    # -- lookups ----------------------------------------------------------------------------

    async def get_job(self, job_id: int) -> JobResult | None:
        return await self._lookup(lookup.BY_ID, job_id)

    async def get_job_by_ref(self, ref_id: str) -> JobResult | None:
        return await self._lookup(lookup.BY_REF, ref_id)

    async def _lookup(self, sql: str, key: int | str) -> JobResult | None:
        """One statement, retried once on a fresh connection if the server went away."""
        try:
            return await self._db.one(lambda c: lookup.job_result(c, sql, key))
        except StoreUnavailableError:
            return await self._db.one(lambda c: lookup.job_result(c, sql, key))

    # -- actions ----------------------------------------------------------------------------

    async def request_cancel(self, job_id: int, reason: str, now: int) -> JobState:
        return await self._finishing(
            now,
            lambda c: admin.request_cancel(c, job_id, reason, now, self._max_log, self.channel),
        )

    async def requeue(self, job_id: int, now: int) -> list[int]:
        return await self._write(
            lambda c: admin.requeue(c, job_id, now, self._max_log, self.channel)
        )

    async def cancel_jobs(self, job_ids: list[int], reason: str, now: int) -> BulkOutcome:
        return await self._finishing(
            now, lambda c: bulk.cancel(c, job_ids, reason, now, self._max_log, self.channel)
        )

    async def requeue_jobs(self, job_ids: list[int], now: int) -> BulkOutcome:
        return await self._write(
            lambda c: bulk.requeue(c, job_ids, now, self._max_log, self.channel)
        )

    async def delete_jobs(self, job_ids: list[int], now: int) -> BulkOutcome:
        return await self._write(lambda c: bulk.delete(c, job_ids, self.channel))

    async def declare_commands(self, definitions: list[CommandDefinition]) -> None:
        await self._write(lambda c: commands.declare(c, definitions))

    # -- listings ---------------------------------------------------------------------------

    async def list_queue(self, query: JobQuery, cursor: int | None, limit: int) -> Page[Job]:
        return await self._read(lambda c: search.list_queue(c, query, cursor, limit))

    async def list_archive(
        self, month: str, kind: JobState, query: JobQuery, cursor: int | None, limit: int
    ) -> Page[Job]:
        if not archive.MONTH.match(month):
            return Page(items=[], next_cursor=None)
        source = search.month_source(month, kind)
        return await self._read(lambda c: search.page_of(c, source, query, cursor, limit))

    async def find_jobs(self, query: JobQuery, cursor: int | None, limit: int) -> Page[Job]:
        return await self._read(lambda c: search.find(c, query, cursor, limit, ids_only=False))

    async def find_job_ids(self, query: JobQuery, cursor: int | None, limit: int) -> Page[int]:
        return await self._read(lambda c: search.find(c, query, cursor, limit, ids_only=True))

    async def count_jobs(self, query: JobQuery) -> int:
        return await self._read(lambda c: search.count(c, query))

    # -- figures ----------------------------------------------------------------------------

    async def counts(self) -> dict[JobState, int]:
        return await self._read(admin.counts)

    async def months(self) -> list[MonthDatabase]:
        return await self._read(lambda c: archive.months(c, self.schema))

    async def throughput(self, since: int, now: int) -> list[ThroughputBucket]:
        return await self._read(lambda c: admin.throughput(c, since))

    async def batch_status(self, batch_id: str) -> BatchStatus:
        return await self._read(lambda c: admin.batch_status(c, batch_id))

    async def declared_commands(self) -> list[CommandDefinition]:
        return await self._read(commands.declared)

    async def dependents(self, job_id: int) -> list[JobSummary]:
        return await self._read(lambda c: admin.dependents(c, job_id))

    async def children(self, job_id: int) -> list[JobSummary]:
        return await self._read(lambda c: admin.children(c, job_id))

    async def blocked_by(self, job_ids: list[int]) -> dict[int, int]:
        return await self._read(lambda c: admin.blocked_by(c, job_ids))

    async def duration_tallies(self, since: int, now: int) -> list[DurationTally]:
        return await self._read(lambda c: tallies.read(c, since, now))

    async def command_throughput(
        self, command: str, since: int, now: int
    ) -> list[ThroughputBucket]:
        return await self._read(lambda c: tallies.throughput(c, command, since, now))
