"""Retention and search on PostgreSQL: whole months dropped with their partitions, older
jobs deleted in small steps with their attempts and dependency edges, counters kept in step, and
full-text search over the archive's generated tsvector."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from jobs_core.records import JobState

from .archive import EXISTING, PARTITION_LOCK, archive_name, month_bounds
from .connection import Conn
from .rows import JOB_SELECT

ARCHIVE_TABLES = ("completed_job", "failed_job", "archived_attempt")
NEWEST = """
(SELECT id, completed_date FROM background_job ORDER BY id DESC LIMIT 1)
UNION ALL (SELECT id, completed_date FROM completed_job ORDER BY id DESC LIMIT 1)
UNION ALL (SELECT id, completed_date FROM failed_job ORDER BY id DESC LIMIT 1)
ORDER BY id DESC LIMIT 1
"""
"""The newest job, live or archived (never purged: ids come from a sequence here, but the
rule is the same on every backend)."""

DELETE_ROWS = """
WITH gone AS (
    DELETE FROM {table} WHERE (id, completed_date) IN (
        SELECT id, completed_date FROM {table}
        WHERE state = $1 AND completed_date < $2 AND id IS DISTINCT FROM $3 LIMIT $4)
    RETURNING id, state, ref_id
), refs AS (
    DELETE FROM job_ref WHERE ref_id IN (SELECT ref_id FROM gone WHERE ref_id IS NOT NULL)
), attempts AS (
    DELETE FROM archived_attempt WHERE job_id IN (SELECT id FROM gone)
), edges AS (
    DELETE FROM job_dependency
    WHERE child_id IN (SELECT id FROM gone) OR parent_id IN (SELECT id FROM gone)
), counted AS (
    UPDATE job_count c SET n = greatest(0, c.n - g.n)
    FROM (SELECT state, count(*) AS n FROM gone GROUP BY state) g WHERE c.state = g.state
)
SELECT count(*) FROM gone
"""
"""One step of archived jobs deleted with their attempts and dependency edges, the counts
by state kept in step."""

FORGET_MONTH = """
WITH refs AS (
    DELETE FROM job_ref r
    WHERE EXISTS (SELECT 1 FROM {completed} p WHERE p.ref_id = r.ref_id AND p.id = r.id)
       OR EXISTS (SELECT 1 FROM {failed} p WHERE p.ref_id = r.ref_id AND p.id = r.id)
), edges AS (
    DELETE FROM job_dependency d
    WHERE EXISTS (SELECT 1 FROM {completed} p WHERE p.id IN (d.child_id, d.parent_id))
       OR EXISTS (SELECT 1 FROM {failed} p WHERE p.id IN (d.child_id, d.parent_id))
)
UPDATE job_count c SET n = greatest(0, c.n - g.n)
FROM (SELECT state, count(*) AS n
      FROM (SELECT state FROM {completed} UNION ALL SELECT state FROM {failed}) AS a
      GROUP BY state) AS g
WHERE c.state = g.state
"""
"""Before a month's partitions are dropped: the counts by state lose its jobs, their ref_ids
and the dependency edges that name them go (what deleting their summaries did until schema version
10)."""

COUNT_ROWS = """
SELECT state, count(*) FROM {table}
WHERE completed_date < $1 AND id IS DISTINCT FROM $2 GROUP BY state
"""

CLAIM = """
INSERT INTO job_maintenance (name, next_at) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET next_at = $2 WHERE job_maintenance.next_at <= $3
RETURNING name
"""

SEARCH = f"""
SELECT {JOB_SELECT} FROM (
    (SELECT {JOB_SELECT} FROM completed_job
     WHERE search @@ plainto_tsquery('simple', $1) AND id < $2
       AND completed_date >= $3 AND completed_date < $4
     ORDER BY id DESC LIMIT $5)
    UNION ALL
    (SELECT {JOB_SELECT} FROM failed_job
     WHERE search @@ plainto_tsquery('simple', $1) AND id < $2
       AND completed_date >= $3 AND completed_date < $4
     ORDER BY id DESC LIMIT $5)
) AS hits ORDER BY id DESC LIMIT $5
"""

ESTIMATE = """
EXPLAIN (FORMAT JSON)
SELECT 1 FROM completed_job WHERE search @@ plainto_tsquery('simple', $1)
UNION ALL SELECT 1 FROM failed_job WHERE search @@ plainto_tsquery('simple', $1)
"""
FEW_HITS = 20_000
"""Below this many estimated hits, a search reads them all through the GIN index and sorts
them; above, it walks the newest ids first and stops at a page (measured at 1M jobs: a rare
word through the id order scanned the whole month, 2 s)."""

SEARCH_FEW = SEARCH.replace("AND id < $2", "AND id + 0 < $2") + "-- few hits: GIN only\n"
"""The same statement under another text, so its prepared plan is its own, its id bound
made unindexable: with a bitmap of the primary key for `id < cursor` (a whole month's ids),
a word matching nothing took 20 ms instead of well under one."""

DURATIONS = """
SELECT duration_ms FROM completed_job
WHERE command = $1 AND duration_ms IS NOT NULL ORDER BY id DESC LIMIT $2
"""


async def newest(conn: Conn) -> tuple[int | None, int | None]:
    row = await conn.fetchrow(NEWEST)
    return (row[0], row[1]) if row else (None, None)


async def drop_month(conn: Conn, *, month: str) -> None:
    """Drop the month's partitions (one transaction, under the partitions' lock), its jobs
    uncounted and their dependency edges deleted first."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", PARTITION_LOCK)
        tables = {t: archive_name(t, month) for t in ("completed_job", "failed_job")}
        if all(await conn.fetchval(EXISTING, list(tables.values()))):
            await conn.execute(
                FORGET_MONTH.format(completed=tables["completed_job"], failed=tables["failed_job"])
            )
        for table in ARCHIVE_TABLES:
            await conn.execute(f"DROP TABLE IF EXISTS {archive_name(table, month)}")


async def delete_rows(
    conn: Conn, *, limits: dict[JobState, int], keep: int | None, step: int
) -> Counter[JobState]:
    """One step: up to `step` archived jobs per state older than its limit, but not `keep`,
    with their attempts and edges, uncounted."""
    removed: Counter[JobState] = Counter()
    async with conn.transaction():
        for state, limit in limits.items():
            table = "completed_job" if state is JobState.COMPLETED else "failed_job"
            sql = DELETE_ROWS.format(table=table)
            gone = await conn.fetchval(sql, state.value, limit, keep, step)
            if gone:
                removed[state] += int(gone)
    return removed


async def count_rows(
    conn: Conn, limits: dict[JobState, int], keep: int | None
) -> Counter[JobState]:
    found: Counter[JobState] = Counter()
    for table in ("completed_job", "failed_job"):
        for state_limit in sorted(set(limits.values())):
            for state, n in await conn.fetch(COUNT_ROWS.format(table=table), state_limit, keep):
                if limits.get(JobState(state)) == state_limit:
                    found[JobState(state)] += int(n)
    return found


def whole_months(
    months: list[str], limits: dict[JobState, int], keep_month: str | None
) -> list[str]:
    """Months entirely before every terminal state's limit, but not the newest job's."""
    if len(limits) < 3:
        return []
    cutoff = min(limits.values())
    return sorted(m for m in months if month_bounds(m)[1] <= cutoff and m != keep_month)


async def claim(conn: Conn, *, name: str, now: int, every_ms: int) -> bool:
    """Compare-and-set on `job_maintenance`: true for one caller per `every_ms`."""
    return await conn.fetchval(CLAIM, name, now + every_ms, now) is not None


async def holding_jobs(conn: Conn, *, months: list[str]) -> list[str]:
    """Those of `months` whose partitions hold a job (empty ones are left alone)."""
    found: list[str] = []
    for month in months:
        tables = [archive_name(t, month) for t in ("completed_job", "failed_job")]
        if await conn.fetchval(
            " OR ".join(f"EXISTS (SELECT 1 FROM {t})" for t in tables).join(("SELECT ", ""))
        ):
            found.append(month)
    return found


async def search(conn: Conn, *, params: tuple[object, ...], limit: int) -> list[Any]:
    """The newest matches, by the plan that fits the words: the planner's estimate of hits
    (from the tsvector statistics) picks the GIN bitmap for rare words and the id order for
    common ones (its own choice, with a LIMIT, assumes hits spread evenly: wrong for a rare
    word). Plans are made for the words given, never cached for any words (a generic plan
    of a prepared statement would pick one order for all)."""
    async with conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        plan = json.loads(await conn.fetchval(ESTIMATE, params[0]))
        if plan[0]["Plan"]["Plan Rows"] > FEW_HITS:
            return list(await conn.fetch(SEARCH, *params, limit))
        await conn.execute("SET LOCAL enable_indexscan = off")
        return list(await conn.fetch(SEARCH_FEW, *params, limit))
