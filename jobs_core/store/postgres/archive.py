"""The month archive on PostgreSQL: `completed_job` and `failed_job` partitioned by month.

A job moves to the partition of the month it finished in, created on demand. A past month's
partitions never change again, so retention is `ALTER TABLE ... DETACH PARTITION` (keep it
elsewhere) or `DROP TABLE` on them, as the README shows.
"""

from __future__ import annotations

import calendar
import re
import time

import asyncpg

from jobs_core.errors import StoreError
from jobs_core.records import JobState, MonthDatabase

from .connection import Conn
from .rows import JOB_SELECT
from .search_sql import SEARCH_VECTOR
from .summaries import archive_refs

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
PARTITIONED = ("completed_job", "failed_job")
PARTITION_LOCK = "jobs partitions"

MOVE_FINISHED = f"""
WITH moved AS (
    DELETE FROM background_job WHERE id IN (
        SELECT id FROM background_job
        WHERE state <> 'queued' AND state IN ('completed', 'failed', 'cancelled')
        ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
    RETURNING {JOB_SELECT}
), completed AS (
    INSERT INTO completed_job ({JOB_SELECT}, search)
    SELECT {JOB_SELECT}, {SEARCH_VECTOR} FROM moved WHERE state = 'completed'
), failed AS (
    INSERT INTO failed_job ({JOB_SELECT}, search)
    SELECT {JOB_SELECT}, {SEARCH_VECTOR} FROM moved WHERE state <> 'completed'
), refs AS ({archive_refs("moved")}
)
SELECT count(*) FROM moved
"""

FINISHED_SPAN = """
SELECT min(completed_date), max(completed_date) FROM background_job
WHERE state <> 'queued' AND state IN ('completed', 'failed', 'cancelled')
"""

PARTITIONS = """
SELECT c.relname, pg_total_relation_size(c.oid)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = ANY(ARRAY[to_regclass('completed_job'), to_regclass('failed_job')])
"""

EXISTING = "SELECT array_agg(to_regclass(n) IS NOT NULL) FROM unnest($1::text[]) AS n"


def month_of(ms: int) -> str:
    """`YYYY-MM` of a UTC epoch-millisecond time."""
    t = time.gmtime(ms // 1000)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}"


def month_bounds(month: str) -> tuple[int, int]:
    """First millisecond of `month` and of the month after it."""
    match = MONTH.match(month)
    if match is None:
        raise ValueError(f"month '{month}': expected YYYY-MM")
    year, number = int(match[1]), int(match[2])
    following = (year + number // 12, number % 12 + 1)
    start = calendar.timegm((year, number, 1, 0, 0, 0)) * 1000
    end = calendar.timegm((*following, 1, 0, 0, 0)) * 1000
    return start, end


def months_between(first: int, last: int) -> list[str]:
    months: list[str] = []
    month = month_of(first)
    while True:
        months.append(month)
        if month == month_of(last):
            return months
        month = month_of(month_bounds(month)[1])


def archive_table(state: JobState, month: str) -> str:
    """The partition holding `month`'s jobs that ended in `state`."""
    return archive_name("completed_job" if state is JobState.COMPLETED else "failed_job", month)


async def move_finished(conn: Conn, limit: int) -> int:
    """Move up to `limit` finished jobs to their month's partitions, creating them if new."""
    for attempt in range(2):
        try:
            async with conn.transaction():
                return int(await conn.fetchval(MOVE_FINISHED, limit))
        except asyncpg.CheckViolationError as error:
            if "no partition" not in str(error) or attempt:
                raise StoreError(
                    f"cannot archive finished jobs: {error} (a partition of that month exists "
                    "but is detached? drop or rename it)"
                ) from None
        span = await conn.fetchrow(FINISHED_SPAN)
        if span is not None and span[0] is not None:
            first, last = span[0], span[1]
            await ensure_partitions(conn, months_between(first, last))
    return 0


async def ensure_partitions(conn: Conn, months: list[str]) -> None:
    """Create the partitions of `months` that do not exist yet (one engine at a time; one
    that exists costs a catalog lookup, no lock on the partitioned tables)."""
    wanted = [(m, t) for m in months for t in (*PARTITIONED, "archived_attempt")]
    names = [archive_name(t, m) for m, t in wanted]
    if all(await conn.fetchval(EXISTING, names)):
        return
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", PARTITION_LOCK)
        for month, table in wanted:
            start, end = month_bounds(month)
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {archive_name(table, month)} PARTITION OF {table} "
                f"FOR VALUES FROM ({start}) TO ({end})"
            )


def archive_name(table: str, month: str) -> str:
    """The partition of `table` (completed_job or failed_job) holding `month`."""
    return f"{table}_{month.replace('-', '_')}"


async def months(conn: Conn, schema: str) -> list[MonthDatabase]:
    """Months with partitions, newest first, with the size of both tables and indexes."""
    sizes: dict[str, int] = {}
    for name, size in await conn.fetch(PARTITIONS):
        month = name[-7:].replace("_", "-")
        if MONTH.match(month):
            sizes[month] = sizes.get(month, 0) + int(size)
    return [
        MonthDatabase(
            month=month, size_bytes=sizes[month],
            path=", ".join(f"{schema}.{t}_{month.replace('-', '_')}" for t in PARTITIONED),
        )
        for month in sorted(sizes, reverse=True)
    ]  # fmt: skip
