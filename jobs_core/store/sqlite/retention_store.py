"""Retention operations of `SqliteStore` (mixed into it): purge on demand and the engines'
background steps. The store's newest job is never removed: ids are allocated from the
largest job id, so it keeps a removed job's id from being used again."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from jobs_core.records import TERMINAL_STATES, JobState, MonthDatabase, PurgeReport
from jobs_core.store.history_protocol import PURGE_STEP

from . import month_search, retention
from .archive import MonthArchive
from .month_reader import month_bounds, month_of

R = TypeVar("R")

NEWEST = """
SELECT id, completed_date FROM background_job WHERE id = (SELECT max(id) FROM background_job)
UNION ALL
SELECT id, completed_date FROM job_summary WHERE id = (SELECT max(id) FROM job_summary)
ORDER BY id DESC LIMIT 1
"""
"""The newest job, live or archived (one probe of each table)."""


class RetentionStoreMixin:
    """`purge`, `purge_step` and `claim_maintenance` on SQLite (contracts on `HistoryStore`)."""

    if TYPE_CHECKING:
        _archive: MonthArchive

        async def _write(self, fn: Callable[[sqlite3.Connection], R]) -> R: ...

        async def _read(self, fn: Callable[[sqlite3.Connection], R]) -> R: ...

        async def _in_archive(self, fn: Callable[[], R]) -> R: ...

        async def months(self) -> list[MonthDatabase]: ...

    async def purge(
        self, older_than: int, states: frozenset[JobState], now: int, *, dry_run: bool,
        step: int = PURGE_STEP,
    ) -> PurgeReport:  # fmt: skip
        limits = {state: older_than for state in states & TERMINAL_STATES}
        keep = await self._newest()
        whole = await self._whole_months(limits, keep)
        removed = await asyncio.to_thread(self._count_older, limits, whole, keep[0])
        report = PurgeReport(
            older_than=older_than, removed=dict(removed), months_dropped=whole, dry_run=dry_run
        )
        if dry_run:
            return report
        for month in whole:
            await self._in_archive(partial(self._archive.drop_month, month))
        while await self._purge_rows(limits, step, keep[0]):
            pass
        while await self._write(partial(retention.delete_summaries, limits=limits, step=step)):
            pass
        return report

    async def purge_step(self, older_than: dict[JobState, int], now: int, step: int) -> int:
        limits = {s: t for s, t in older_than.items() if s in TERMINAL_STATES}
        keep = await self._newest()
        for month in await self._whole_months(limits, keep):
            await self._in_archive(partial(self._archive.drop_month, month))
        gone = sum((await self._purge_rows(limits, step, keep[0])).values())
        summaries = await self._write(partial(retention.delete_summaries, limits=limits, step=step))
        return gone + sum(summaries.values())

    async def claim_maintenance(self, name: str, now: int, every_ms: int) -> bool:
        return await self._write(partial(retention.claim, name=name, now=now, every_ms=every_ms))

    async def _newest(self) -> tuple[int | None, int | None]:
        """The newest job's id and finish time (it is never removed)."""
        row = await self._read(lambda conn: conn.execute(NEWEST).fetchone())
        return (row[0], row[1]) if row else (None, None)

    async def _whole_months(
        self, limits: dict[JobState, int], keep: tuple[int | None, int | None]
    ) -> list[str]:
        """Months entirely before every terminal state's limit (their file can go at once),
        but not the month holding the newest job."""
        if set(limits) != TERMINAL_STATES:
            return []
        cutoff = min(limits.values())
        kept = month_of(keep[1]) if keep[1] is not None else None
        return sorted(
            m.month for m in await self.months()
            if month_bounds(m.month)[1] <= cutoff and m.month != kept
        )  # fmt: skip

    async def _purge_rows(
        self, limits: dict[JobState, int], step: int, keep: int | None
    ) -> Counter[JobState]:
        """One step on each month that holds jobs before the limits."""
        removed: Counter[JobState] = Counter()
        if not limits:
            return removed
        latest = max(limits.values())
        for m in await self.months():
            if month_bounds(m.month)[0] < latest:
                delete = partial(self._archive.delete_older, m.month, limits, step, keep)
                removed += await self._in_archive(delete)
        return removed

    def _count_older(
        self, limits: dict[JobState, int], whole: list[str], keep: int | None
    ) -> Counter[JobState]:
        """Jobs of every month the limits reach (in a worker thread)."""
        found: Counter[JobState] = Counter()
        for m in self._archive.months():
            for state, limit in limits.items():
                if month_bounds(m.month)[0] >= limit:
                    continue
                count = partial(
                    month_search.count_older, older_than=None if m.month in whole else limit,
                    states=frozenset({state}), keep=keep,
                )  # fmt: skip
                found += self._archive.reader.run(m.month, count) or Counter()
        return found
