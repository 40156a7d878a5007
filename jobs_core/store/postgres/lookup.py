"""Reading one job by id or ref_id: its summary and its full row, wherever the row is (the
live table or its month's partition), in one statement and so one snapshot.

One round trip: `jobs.wait` and the admin app read jobs often, and a transaction of three
statements cost four.
"""

from __future__ import annotations

from jobs_core.records import JobResult, JobState
from jobs_core.store.rows import SUMMARY_FIELDS

from .connection import Conn
from .rows import JOB_SELECT, row_to_job, row_to_summary
from .summaries import JOB_TABLES, LIVE_SUMMARY_SELECT

# One arm a table, each probing its own index (an archived row through the primary key
# (id, completed_date) of every month's partition). Joined to a UNION of
# the tables instead, the cached plan may hash a whole month's partition (as it did when
# the summaries had a table of their own: 12 ms a lookup once the month held 20,000 jobs,
# against 0.2).
LOOKUP = " UNION ALL ".join(
    f"SELECT {LIVE_SUMMARY_SELECT}, {JOB_SELECT} FROM {table} WHERE {{where}}"
    for table in JOB_TABLES
)
BY_ID = LOOKUP.format(where="id = $1")
# An archived job by the id its ref_id has in `job_ref` (one index), not by each month's
# `ix_*_ref_id` (a probe a partition).
BY_REF = LOOKUP.format(
    where="id = (SELECT id FROM background_job WHERE ref_id = $1 "
    "UNION ALL SELECT id FROM job_ref WHERE ref_id = $1 LIMIT 1)"
)

_S = len(SUMMARY_FIELDS)


async def job_result(conn: Conn, sql: str, key: int | str) -> JobResult | None:
    """The job found by `sql` (BY_ID or BY_REF) with `key`, or None."""
    row = await conn.fetchrow(sql, key)
    if row is None:
        return None
    values = list(row)
    summary = row_to_summary(values[:_S])
    job = row_to_job(values[_S:])
    if job.state is JobState.COMPLETED:
        return JobResult(summary=summary, completed=job)
    if job.state in (JobState.FAILED, JobState.CANCELLED):
        return JobResult(summary=summary, failed=job)
    return JobResult(summary=summary, queued=job)


LIVE_STATES = """
SELECT id, state FROM background_job WHERE id = ANY($1::bigint[]) ORDER BY id {lock}
"""
ARCHIVED_STATES = """
WITH c AS (SELECT id, state FROM completed_job WHERE id = ANY($1::bigint[]) {lock}),
f AS (SELECT id, state FROM failed_job WHERE id = ANY($1::bigint[]) {lock})
SELECT * FROM c UNION ALL SELECT * FROM f
"""


async def locked_states(conn: Conn, ids: list[int], lock: str) -> dict[int, JobState]:
    """The states of those of `ids` that exist, their rows locked (`lock`: FOR SHARE or FOR
    UPDATE), live ones first. Two statements: a job archived while the first waited for its
    lock is gone from the live table when the wait ends, and only a later snapshot sees its
    archived row (likewise a job requeued back into the live table, looked for once more)."""
    found: dict[int, JobState] = {}
    missing = ids
    for sql in (LIVE_STATES, ARCHIVED_STATES, LIVE_STATES):
        rows = await conn.fetch(sql.format(lock=lock), missing)
        found.update((row[0], JobState(row[1])) for row in rows)
        missing = [i for i in missing if i not in found]
        if not missing:
            break
    return found
