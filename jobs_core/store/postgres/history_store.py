"""History operations of `PostgresStore` (mixed into it): attempts, batch records,
retention, search and recent durations. Contracts are stated on `HistoryStore`."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, TypeVar

from jobs_core.errors import BatchNotFoundError, JobNotFoundError
from jobs_core.history import compose
from jobs_core.records import (
    TERMINAL_STATES,
    Job,
    JobAttempt,
    JobState,
    MonthDatabase,
    Page,
    PurgeReport,
)
from jobs_core.store.history_protocol import PURGE_STEP
from jobs_core.store.protocol import NewBatch

from . import archive, attempts, batches, lookup, retention
from .connection import Conn
from .finish import settle_outside
from .rows import row_to_job

if TYPE_CHECKING:
    from .database import Work

R = TypeVar("R")


class HistoryStoreMixin:
    """History on PostgreSQL; uses the store's `_write`, `_read` and `_finishing`."""

    channel: str

    if TYPE_CHECKING:

        async def _write(self, fn: Work[R]) -> R: ...

        async def _read(self, fn: Work[R]) -> R: ...

        async def _finishing(self, now: int, fn: Work[R], *, engine: bool = False) -> R: ...

        async def months(self) -> list[MonthDatabase]: ...

    async def attempts(self, job_id: int) -> list[JobAttempt]:
        async def read(conn: Conn) -> list[JobAttempt]:
            found = await lookup.job_result(conn, lookup.BY_ID, job_id)
            if found is None:
                raise JobNotFoundError(f"there is no job {job_id}")
            rows = await attempts.live_rows(conn, job_id)
            completed = found.summary.completed_date
            if found.queued is None and completed is not None:
                start, end = archive.month_bounds(archive.month_of(completed))
                rows += await attempts.archived_rows(conn, job_id, start, end)
            return compose(found.job, rows)

        return await self._read(read)

    async def create_batch(self, batch: NewBatch, now: int) -> None:
        await self._write(lambda c: batches.create(c, batch, now))

    async def close_batch(self, batch_id: str, now: int) -> list[int]:
        async def close(conn: Conn) -> list[int]:
            if await batches.record(conn, batch_id) is None:
                raise BatchNotFoundError(f"there is no batch '{batch_id}'")
            finished = await batches.close(conn, batch_id, now)
            if not finished:
                return []
            return await settle_outside(conn, [], now, self.channel, finished)

        return await self._finishing(now, close)

    async def cancel_batch(self, batch_id: str, reason: str, now: int) -> list[int]:
        async def cancel(conn: Conn) -> list[int]:
            ids, number = await batches.cancel_batch(conn, batch_id, reason, now)
            if number is not None:
                # The batch ended without completing: its dependents end or go on now.
                await settle_outside(conn, [-number], now, self.channel)
            return ids

        return await self._finishing(now, cancel)

    # -- retention ------------------------------------------------------------------------

    async def purge(
        self, older_than: int, states: frozenset[JobState], now: int, *, dry_run: bool,
        step: int = PURGE_STEP,
    ) -> PurgeReport:  # fmt: skip
        limits = {state: older_than for state in states & TERMINAL_STATES}
        keep, whole = await self._keep_and_whole(limits)
        removed = await self._read(lambda c: retention.count_rows(c, limits, keep))
        report = PurgeReport(
            older_than=older_than, removed=dict(removed), months_dropped=whole, dry_run=dry_run
        )
        if not dry_run:
            await self._purge_all(limits, keep, whole, step)
        return report

    async def _purge_all(
        self, limits: dict[JobState, int], keep: int | None, whole: list[str], step: int
    ) -> None:
        for month in whole:
            await self._write(partial(retention.drop_month, month=month))
        delete_rows = partial(retention.delete_rows, limits=limits, keep=keep, step=step)
        while await self._write(delete_rows):
            pass

    async def purge_step(self, older_than: dict[JobState, int], now: int, step: int) -> int:
        limits = {s: t for s, t in older_than.items() if s in TERMINAL_STATES}
        keep, whole = await self._keep_and_whole(limits)
        for month in whole:
            await self._write(partial(retention.drop_month, month=month))
        rows = await self._write(
            partial(retention.delete_rows, limits=limits, keep=keep, step=step)
        )
        return sum(rows.values())

    async def _keep_and_whole(self, limits: dict[JobState, int]) -> tuple[int | None, list[str]]:
        keep, keep_date = await self._read(retention.newest)
        keep_month = archive.month_of(keep_date) if keep_date is not None else None
        months = [m.month for m in await self.months()]
        whole = retention.whole_months(months, limits, keep_month)
        return keep, await self._read(partial(retention.holding_jobs, months=whole))

    async def claim_maintenance(self, name: str, now: int, every_ms: int) -> bool:
        found = await self._write(lambda c: c.fetchval(retention.CLAIM, name, now + every_ms, now))
        return found is not None

    # -- search and estimates -------------------------------------------------------------

    async def search(
        self, text: str, *, since: int | None, until: int | None, cursor: int | None,
        limit: int,
    ) -> Page[Job]:  # fmt: skip
        if not any(ch.isalnum() for ch in text):
            return Page(items=[], next_cursor=None)
        params = (text, cursor or 2**62, since or 0, until if until is not None else 2**62)
        rows = await self._read(partial(retention.search, params=params, limit=limit + 1))
        items = [row_to_job(r) for r in rows[:limit]]
        return Page(items=items, next_cursor=items[-1].id if len(rows) > limit else None)

    async def recent_durations(self, command: str, limit: int) -> list[int]:
        rows = await self._read(lambda c: c.fetch(retention.DURATIONS, command, limit))
        return [int(r[0]) for r in rows]
