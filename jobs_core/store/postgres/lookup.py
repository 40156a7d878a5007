"""Reading one job by id or ref_id: its summary and its full row, wherever the row is (the
live table or its month's partition), in one statement and so one snapshot.

One round trip: `jobs.wait` and the admin app read jobs often, and a transaction of three
statements cost four.
"""

from __future__ import annotations

from jobs_core.records import JobResult, JobState
from jobs_core.store.rows import SUMMARY_FIELDS, SUMMARY_SELECT

from .connection import Conn
from .rows import row_to_job, row_to_summary
from .schema import JOB_FIELDS
from .summaries import LIVE_SUMMARY_SELECT

_NULLS = ", ".join(["NULL"] * len(JOB_FIELDS))
_LIVE_ROW = ", ".join(f"b.{f}" for f in JOB_FIELDS)
_ARCHIVED_ROWS = ", ".join(f"{alias}.{f}" for alias in ("c", "f") for f in JOB_FIELDS)
# Two arms, the partitions joined to the summaries' table itself: joined to a UNION of the
# live and archived summaries, the cached plan hashed a whole month's partition (12 ms a
# lookup once the month held 20,000 jobs, against 0.2). An archived row is found by its
# primary key (id, completed_date): the summary's completed_date is written with it, so
# only that month's partition is probed.
LOOKUP = f"""
SELECT {LIVE_SUMMARY_SELECT}, {_LIVE_ROW}, {_NULLS}, {_NULLS}
FROM background_job b WHERE b.{{key}} = $1
UNION ALL
SELECT {", ".join("s." + f for f in SUMMARY_SELECT.split(", "))}, {_NULLS}, {_ARCHIVED_ROWS}
FROM job_summary s
LEFT JOIN completed_job c
    ON s.state = 'completed' AND c.id = s.id AND c.completed_date = s.completed_date
LEFT JOIN failed_job f
    ON s.state IN ('failed', 'cancelled') AND f.id = s.id AND f.completed_date = s.completed_date
WHERE s.{{key}} = $1
"""
BY_ID = LOOKUP.format(key="id")
BY_REF = LOOKUP.format(key="ref_id")

_S = len(SUMMARY_FIELDS)
_J = len(JOB_FIELDS)


async def job_result(conn: Conn, sql: str, key: int | str) -> JobResult | None:
    """The job found by `sql` (BY_ID or BY_REF) with `key`, or None."""
    row = await conn.fetchrow(sql, key)
    if row is None:
        return None
    values = list(row)
    summary = row_to_summary(values[:_S])
    for start in range(_S, _S + 3 * _J, _J):
        if values[start] is not None:  # the row's id: this is where the job is
            job = row_to_job(values[start : start + _J])
            if job.state is JobState.COMPLETED:
                return JobResult(summary=summary, completed=job)
            if job.state in (JobState.FAILED, JobState.CANCELLED):
                return JobResult(summary=summary, failed=job)
            return JobResult(summary=summary, queued=job)
    return JobResult(summary=summary)  # its month was dropped: the summary stays


_STATES = "SELECT id, state FROM {table} WHERE id = ANY($1::bigint[]) ORDER BY id {lock}"
LIVE_STATES = _STATES.replace("{table}", "background_job")
ARCHIVED_STATES = _STATES.replace("{table}", "job_summary")


async def locked_states(conn: Conn, ids: list[int], lock: str) -> dict[int, JobState]:
    """The states of those of `ids` that exist, their rows locked (`lock`: FOR SHARE or FOR
    UPDATE), live ones first. Two statements: a job archived while the first waited for its
    lock is gone from the live table when the wait ends, and only a later snapshot sees its
    summary (likewise a job requeued back into the live table, looked for once more)."""
    found: dict[int, JobState] = {}
    missing = ids
    for sql in (LIVE_STATES, ARCHIVED_STATES, LIVE_STATES):
        rows = await conn.fetch(sql.format(lock=lock), missing)
        found.update((row[0], JobState(row[1])) for row in rows)
        missing = [i for i in missing if i not in found]
        if not missing:
            break
    return found
