"""Listing jobs by query on PostgreSQL: the queue, one month of the archive, or everywhere
(the live table and the archive tables, merged newest first), in keyset pages.

The archive tables are read through their partitioned parents: a month is a range of
`completed_date`, and `since:`/`before:` bounds become one too, so PostgreSQL reads only
the partitions that can hold a match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs_core.query import JobQuery
from jobs_core.records import Job, JobState, Page
from jobs_core.store.paging import keyset_page, merge

from .archive import month_bounds
from .connection import Conn
from .filters import Where, job_where, needs_window
from .rows import JOB_SELECT, row_to_job

ACTIVE = "state IN ('queued', 'started', 'executed')"


@dataclass(frozen=True, slots=True)
class Source:
    """One table to search: the live table, or an archive table within a range of
    `completed_date` (a month, or the query's time bounds)."""

    table: str
    archive: bool
    start: int | None = None
    end: int | None = None

    def where(self) -> Where:
        where = Where()
        if self.start is not None:
            where.add(f"completed_date >= {where.mark(self.start)}")
        if self.end is not None:
            where.add(f"completed_date < {where.mark(self.end)}")
        return where


def month_source(month: str, kind: JobState) -> Source:
    """A month's completed jobs (kind `completed`) or failed and cancelled ones."""
    start, end = month_bounds(month)
    table = "completed_job" if kind is JobState.COMPLETED else "failed_job"
    return Source(table, archive=True, start=start, end=end)


def sources(query: JobQuery) -> list[Source]:
    """The live table and the archive tables that can hold jobs matching `query`."""
    states = query.states
    since, before = query.time_range()
    found = [Source("background_job", archive=False)]
    if JobState.COMPLETED in states:
        found.append(Source("completed_job", archive=True, start=since, end=before))
    if states & {JobState.FAILED, JobState.CANCELLED}:
        found.append(Source("failed_job", archive=True, start=since, end=before))
    return found


async def list_queue(conn: Conn, query: JobQuery, cursor: int | None, limit: int) -> Page[Job]:
    """Jobs in the queue (queued, started, executed), oldest first, after id `cursor`."""
    where = job_where(Where(), query, cursor, descending=False)
    rows = await conn.fetch(
        f"SELECT {JOB_SELECT} FROM background_job WHERE {ACTIVE} AND {where.sql} "
        f"ORDER BY id LIMIT {where.mark(limit + 1)}",
        *where.params,
    )
    items = [row_to_job(r) for r in rows[:limit]]
    return Page(items=items, next_cursor=items[-1].id if len(rows) > limit else None)


async def page_of(
    conn: Conn, source: Source, query: JobQuery, cursor: int | None, limit: int, *,
    ids_only: bool = False,
) -> Page[Any]:  # fmt: skip
    """Up to `limit` rows of `source` matching `query`, newest first, before id `cursor`.

    An archive table without an index for the query is scanned `TEXT_SCAN_WINDOW` ids at a
    time: the page then covers ids down to its `next_cursor` and may hold fewer rows."""
    bounded = source.archive and needs_window(query)
    start = cursor
    if bounded and start is None:
        top = source.where()
        found = await conn.fetchval(
            f"SELECT max(id) FROM {source.table} WHERE {top.sql}", *top.params
        )
        start = (found or 0) + 1
    where = job_where(source.where(), query, start, descending=True, bounded=bounded)
    columns = "id" if ids_only else JOB_SELECT
    rows = await conn.fetch(
        f"SELECT {columns} FROM {source.table} WHERE {where.sql} "
        f"ORDER BY id DESC LIMIT {where.mark(limit + 1)}",
        *where.params,
    )
    items = [r[0] if ids_only else row_to_job(r) for r in rows[:limit]]
    return keyset_page(items, len(rows) > limit, where.window_end)


async def find(
    conn: Conn, query: JobQuery, cursor: int | None, limit: int, *, ids_only: bool
) -> Page[Any]:
    """Jobs (or ids) matching `query` wherever they are, newest first, before `cursor`."""
    pages = [await page_of(conn, s, query, cursor, limit, ids_only=ids_only)
             for s in sources(query)]  # fmt: skip
    return merge(pages, limit)


async def count(conn: Conn, query: JobQuery) -> int:
    """How many jobs match `query` anywhere (a scan where no index serves it)."""
    total = 0
    for source in sources(query):
        where = job_where(source.where(), query, None, descending=True)
        sql = f"SELECT count(*) FROM {source.table} WHERE {where.sql}"
        total += int(await conn.fetchval(sql, *where.params))
    return total
