"""History operations of `SqliteStore` (mixed into it): attempts and batch records."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from jobs_core.errors import BatchNotFoundError, JobNotFoundError
from jobs_core.history import AttemptRow, compose
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

from . import admin, attempts, batches, month_search, queue, retention
from .archive import MonthArchive, month_bounds
from .month_reader import month_of

R = TypeVar("R")


class HistoryStoreMixin:
    """Attempt history and batch records on SQLite; uses the store's `_write` and `_read`.

    Contracts are stated on `HistoryStore` (jobs_core/store/history_protocol.py).
    """

    if TYPE_CHECKING:

        async def _write(self, fn: Callable[[sqlite3.Connection], R]) -> R: ...

        async def _read(self, fn: Callable[[sqlite3.Connection], R]) -> R: ...

        async def _read_archived(self, month: str, state: JobState, job_id: int) -> Job | None: ...

        async def _read_month_attempts(self, month: str, job_id: int) -> list[AttemptRow]: ...

        async def _retry_busy(self, fn: Callable[[], R]) -> R: ...

        _archive: MonthArchive

        async def months(self) -> list[MonthDatabase]: ...

    async def attempts(self, job_id: int) -> list[JobAttempt]:
        found = await self._read(lambda conn: admin.summary(conn, job_id))
        if found is None:
            raise JobNotFoundError(f"there is no job {job_id}")

        def live(conn: sqlite3.Connection) -> tuple[Job | None, list[AttemptRow]]:
            return admin.live_job(conn, job_id), attempts.rows_of(conn, job_id)

        job, rows = await self._read(live)
        if job is not None or found.completed_date is None:
            return compose(job, rows)
        month = month_of(found.completed_date)
        archived = await self._read_archived(month, found.state, job_id)
        return compose(archived, await self._read_month_attempts(month, job_id))

    async def create_batch(self, batch: NewBatch, now: int) -> None:
        await self._write(lambda conn: batches.create(conn, batch, now))

    async def close_batch(self, batch_id: str, now: int) -> list[int]:
        def close(conn: sqlite3.Connection) -> list[int]:
            if batches.record(conn, batch_id) is None:
                raise BatchNotFoundError(f"there is no batch '{batch_id}'")
            finished = batches.close(conn, batch_id, now)
            return queue.settle_outside(conn, [], now, finished) if finished else []

        return await self._write(close)

    async def cancel_batch(self, batch_id: str, reason: str, now: int) -> list[int]:
        def cancel(conn: sqlite3.Connection) -> list[int]:
            ids, number = batches.cancel_batch(conn, batch_id, reason, now)
            if number is not None:
                # The batch ended without completing: its dependents end or go on now.
                queue.settle_outside(conn, [-number], now)
            return ids

        return await self._write(cancel)

    # -- retention ------------------------------------------------------------------------

    async def purge(
        self, older_than: int, states: frozenset[JobState], now: int, *, dry_run: bool,
        step: int = PURGE_STEP,
    ) -> PurgeReport:  # fmt: skip
        limits = {state: older_than for state in states & TERMINAL_STATES}
        whole = await self._whole_months(limits)
        removed = await asyncio.to_thread(self._count_older, limits, whole)
        report = PurgeReport(
            older_than=older_than, removed=dict(removed), months_dropped=whole, dry_run=dry_run
        )
        if dry_run:
            return report
        for month in whole:
            await self._retry_busy(partial(self._archive.drop_month, month))
        while await self._purge_rows(limits, step):
            pass
        while await self._write(partial(retention.delete_summaries, limits=limits, step=step)):
            pass
        return report

    async def purge_step(self, older_than: dict[JobState, int], now: int, step: int) -> int:
        limits = {s: t for s, t in older_than.items() if s in TERMINAL_STATES}
        for month in await self._whole_months(limits):
            await self._retry_busy(partial(self._archive.drop_month, month))
        gone = sum((await self._purge_rows(limits, step)).values())
        summaries = await self._write(partial(retention.delete_summaries, limits=limits, step=step))
        return gone + sum(summaries.values())

    async def claim_maintenance(self, name: str, now: int, every_ms: int) -> bool:
        return await self._write(partial(retention.claim, name=name, now=now, every_ms=every_ms))

    async def _whole_months(self, limits: dict[JobState, int]) -> list[str]:
        """Months entirely before every terminal state's limit (their file can go at once)."""
        if set(limits) != TERMINAL_STATES:
            return []
        cutoff = min(limits.values())
        return sorted(m.month for m in await self.months() if month_bounds(m.month)[1] <= cutoff)

    async def _purge_rows(self, limits: dict[JobState, int], step: int) -> Counter[JobState]:
        """One step on each month that holds jobs before the limits."""
        removed: Counter[JobState] = Counter()
        if not limits:
            return removed
        latest = max(limits.values())
        for m in await self.months():
            if month_bounds(m.month)[0] < latest:
                delete = partial(self._archive.delete_older, m.month, limits, step)
                removed += await self._retry_busy(delete)
        return removed

    def _count_older(self, limits: dict[JobState, int], whole: list[str]) -> Counter[JobState]:
        """Jobs of every month the limits reach (in a worker thread)."""
        found: Counter[JobState] = Counter()
        for m in self._archive.months():
            if m.month in whole:
                count = partial(month_search.count_older, older_than=None,
                                states=frozenset(limits))  # fmt: skip
                found += self._archive.reader.run(m.month, count) or Counter()
                continue
            for state, limit in limits.items():
                if month_bounds(m.month)[0] < limit:
                    count = partial(month_search.count_older, older_than=limit,
                                    states=frozenset({state}))  # fmt: skip
                    found += self._archive.reader.run(m.month, count) or Counter()
        return found

    # -- search and estimates -------------------------------------------------------------

    async def search(
        self, text: str, *, since: int | None, until: int | None, cursor: int | None,
        limit: int,
    ) -> Page[Job]:  # fmt: skip
        query = month_search.match_query(text)
        if query is None:
            return Page(items=[], next_cursor=None)
        months = [m.month for m in await self.months()]
        found = await asyncio.to_thread(
            self._search_months, months, query, cursor, limit + 1, since, until
        )
        items = found[:limit]
        return Page(items=items, next_cursor=items[-1].id if len(found) > limit else None)

    def _search_months(
        self, months: list[str], query: str, cursor: int | None, limit: int,
        since: int | None, until: int | None,
    ) -> list[Job]:  # fmt: skip
        """The best `limit` hits of every month in the range (in a worker thread)."""
        found: list[Job] = []
        for month in months:
            start, end = month_bounds(month)
            if (since is not None and end <= since) or (until is not None and start > until):
                continue
            cut = (since is not None and start < since) or (until is not None and end > until)
            search = partial(
                month_search.search, query=query, before=cursor or 2**62, limit=limit,
                since=since if cut else None, until=until if cut else None,
            )  # fmt: skip
            found += self._archive.reader.run(month, search) or []
        return sorted(found, key=lambda j: -j.id)[:limit]

    async def recent_durations(self, command: str, limit: int) -> list[int]:
        months = [m.month for m in await self.months()][:2]
        return await asyncio.to_thread(self._durations, months, command, limit)

    def _durations(self, months: list[str], command: str, limit: int) -> list[int]:
        found: list[int] = []
        for month in months:
            read = partial(month_search.durations, command=command, limit=limit - len(found))
            found += self._archive.reader.run(month, read) or []
            if len(found) >= limit:
                break
        return found
