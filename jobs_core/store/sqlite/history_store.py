"""History operations of `SqliteStore` (mixed into it): attempts and batch records."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from jobs_core.errors import BatchNotFoundError, JobNotFoundError
from jobs_core.history import AttemptRow, compose
from jobs_core.records import (
    Job,
    JobAttempt,
    JobState,
    MonthDatabase,
    Page,
)
from jobs_core.store.protocol import NewBatch

from . import admin, attempts, batches, month_search, queue, summaries
from .archive import MonthArchive
from .month_reader import month_bounds, month_of

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

        async def _in_archive(self, fn: Callable[[], R]) -> R: ...

        _archive: MonthArchive

        async def months(self) -> list[MonthDatabase]: ...

    async def attempts(self, job_id: int) -> list[JobAttempt]:
        found = await self._read(lambda conn: summaries.summary(conn, job_id))
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
            if (since is not None and end <= since) or (until is not None and start >= until):
                continue
            cut = (since is not None and start < since) or (until is not None and end > until)
            search = partial(
                month_search.search, query=query, before=cursor or 2**62, limit=limit,
                since=since if cut else None, until=until if cut else None,
                month=(start, end),
            )  # fmt: skip
            found += self._archive.reader.run(month, search) or []
        return sorted(found, key=lambda j: -j.id)[:limit]

    async def recent_durations(self, command: str, limit: int) -> list[int]:
        live = await self._read(partial(_live_durations, command=command, limit=limit))
        months = [m.month for m in await self.months()][:2]
        return await asyncio.to_thread(self._durations, months, command, limit, live)

    def _durations(
        self, months: list[str], command: str, limit: int, found: list[int]
    ) -> list[int]:
        """`found` (the newest), then durations from the newest months, up to `limit`."""
        for month in months:
            if len(found) >= limit:
                break
            read = partial(month_search.durations, command=command, limit=limit - len(found))
            found += self._archive.reader.run(month, read) or []
        return found[:limit]


def _live_durations(conn: sqlite3.Connection, *, command: str, limit: int) -> list[int]:
    """Durations of completed jobs not archived yet (few: the archiver moves them soon)."""
    rows = conn.execute(
        "SELECT duration_ms FROM background_job INDEXED BY ix_job_state WHERE state <> 'queued' "
        "AND state = 'completed' AND command = ? AND duration_ms IS NOT NULL "
        "ORDER BY id DESC LIMIT ?",
        (command, limit),
    )
    return [int(r[0]) for r in rows]
