"""Listing jobs by query: the queue, one month's table, or everywhere (the live table and
every month file, merged newest first), in keyset pages."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from jobs_core.query import JobQuery
from jobs_core.records import Job, JobState, Page
from jobs_core.store.paging import keyset_page

from .filters import job_where, needs_window
from .month_reader import month_bounds
from .rows import JOB_SELECT, row_to_job

T = TypeVar("T")

ACTIVE = "state IN ('queued', 'started', 'executed')"


@dataclass(frozen=True, slots=True)
class Source:
    """One table to search: the live table or a month's completed or failed table."""

    conn: sqlite3.Connection
    table: str
    month_file: bool
    """Month tables are read in bounded windows when no index narrows the query."""
    columns: str = JOB_SELECT
    """The full job row's column list (a month file written by an older jobs lacks some)."""


def list_queue(
    conn: sqlite3.Connection, query: JobQuery, cursor: int | None, limit: int
) -> Page[Job]:
    """Jobs in the queue (queued, started, executed), oldest first, after id `cursor`."""
    where = job_where(query, cursor, descending=False)
    rows = conn.execute(
        f"SELECT {JOB_SELECT} FROM background_job WHERE {ACTIVE} AND {where.sql} "
        "ORDER BY id LIMIT ?",
        [*where.params, limit + 1],
    ).fetchall()
    items = [row_to_job(r) for r in rows[:limit]]
    return Page(items=items, next_cursor=items[-1].id if len(rows) > limit else None)


def page_of(
    source: Source, query: JobQuery, cursor: int | None, limit: int, *, ids_only: bool = False
) -> Page[Any]:
    """Up to `limit` rows of `source` matching `query`, newest first, before id `cursor`.

    A month table without an index for the query is scanned `TEXT_SCAN_WINDOW` ids at a
    time: the page then covers ids down to its `next_cursor` and may hold fewer rows."""
    bounded = source.month_file and needs_window(query)
    start = cursor
    if bounded and start is None:
        top = source.conn.execute(f"SELECT max(id) FROM {source.table}").fetchone()[0]
        start = (top or 0) + 1
    where = job_where(query, start, descending=True, bounded=bounded)
    columns = "id" if ids_only else source.columns
    rows = source.conn.execute(
        f"SELECT {columns} FROM {source.table} WHERE {where.sql} ORDER BY id DESC LIMIT ?",
        [*where.params, limit + 1],
    ).fetchall()
    items = [r[0] if ids_only else row_to_job(r) for r in rows[:limit]]
    return keyset_page(items, len(rows) > limit, where.window_end)


def count_of(source: Source, query: JobQuery) -> int:
    """How many rows of `source` match `query` (a scan when no index serves it)."""
    where = job_where(query, None, descending=True)
    return int(
        source.conn.execute(
            f"SELECT count(*) FROM {source.table} WHERE {where.sql}", where.params
        ).fetchone()[0]
    )


def month_tables(months: Sequence[str], query: JobQuery) -> list[tuple[str, str]]:
    """(month, table) pairs that can hold jobs matching `query`: by state, and by month
    when `since:`/`before:` bound the time (a month file holds the jobs finished in it)."""
    states = query.states
    tables: list[str] = []
    if JobState.COMPLETED in states:
        tables.append("completed_job")
    if states & {JobState.FAILED, JobState.CANCELLED}:
        tables.append("failed_job")
    since, before = query.time_range()
    found: list[tuple[str, str]] = []
    for month in months:
        start, end = month_bounds(month)
        if (since is not None and end <= since) or (before is not None and start >= before):
            continue
        found.extend((month, table) for table in tables)
    return found
