"""Reading one job by id or ref_id: its summary and its full row, wherever the row is (the
live table or its month's partition), in one statement and so one snapshot.

One round trip: `jobs.wait` and the admin app read jobs often, and a transaction of three
statements cost four.
"""

from __future__ import annotations

from jobs_core.records import JobResult, JobState

from .connection import Conn
from .rows import row_to_job, row_to_summary
from .schema import JOB_FIELDS
from .summaries import SUMMARY_FIELDS, SUMMARY_SELECT, every_job

_ROWS = ", ".join(f"{alias}.{f}" for alias in ("b", "c", "f") for f in JOB_FIELDS)
# A live job's summary comes from its row; an archived row is found by its primary key
# (id, completed_date): the summary's completed_date is written with it, so only that
# month's partition is probed.
LOOKUP = f"""
SELECT {", ".join("s." + f for f in SUMMARY_SELECT.split(", "))}, {_ROWS}
FROM {every_job("{key} = $1")} AS s
LEFT JOIN background_job b ON b.id = s.id
LEFT JOIN completed_job c
    ON b.id IS NULL AND s.state = 'completed' AND c.id = s.id
   AND c.completed_date = s.completed_date
LEFT JOIN failed_job f
    ON b.id IS NULL AND s.state IN ('failed', 'cancelled') AND f.id = s.id
   AND f.completed_date = s.completed_date
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
