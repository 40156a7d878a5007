"""Bulk admin actions on PostgreSQL: cancel, requeue and delete a batch of jobs in one
transaction (the archive is in the same database), each job checked in that transaction
while engines keep running."""

from __future__ import annotations

from collections import Counter

from jobs_core.errors import InvalidStateError, JobNotFoundError
from jobs_core.records import REQUEUEABLE_STATES, TERMINAL_STATES, JobState
from jobs_core.store.protocol import BulkOutcome

from . import admin, lookup
from .connection import Conn

DELETE = """
WITH live AS (
    DELETE FROM background_job WHERE id = ANY($1::bigint[])
    RETURNING id, completed_date, batch_id, state, ref_id
), completed AS (
    DELETE FROM completed_job WHERE id = ANY($1::bigint[])
    RETURNING id, completed_date, batch_id, state, ref_id
), failed AS (
    DELETE FROM failed_job WHERE id = ANY($1::bigint[])
    RETURNING id, completed_date, batch_id, state, ref_id
), refs AS (
    DELETE FROM job_ref WHERE ref_id IN (
        SELECT ref_id FROM completed UNION ALL SELECT ref_id FROM failed)
), gone AS (
    SELECT * FROM live UNION ALL SELECT * FROM completed UNION ALL SELECT * FROM failed
), attempts AS (
    DELETE FROM job_attempt WHERE job_id = ANY($1::bigint[])
), archived_attempts AS (
    DELETE FROM archived_attempt a USING gone g
    WHERE a.job_id = g.id AND a.completed_date = g.completed_date
), edges AS (
    DELETE FROM job_dependency
    WHERE child_id = ANY($1::bigint[]) OR parent_id = ANY($1::bigint[])
), batched AS (
    -- Deleted jobs no longer count in their batch (its callbacks' counts match its jobs).
    UPDATE job_batch AS j
    SET joined = greatest(0, j.joined - d.n), completed = greatest(0, j.completed - d.c),
        failed = greatest(0, j.failed - d.f), cancelled = greatest(0, j.cancelled - d.k)
    FROM (SELECT batch_id, count(*) AS n, count(*) FILTER (WHERE state = 'completed') AS c,
                 count(*) FILTER (WHERE state = 'failed') AS f,
                 count(*) FILTER (WHERE state = 'cancelled') AS k
          FROM gone WHERE batch_id IS NOT NULL GROUP BY batch_id ORDER BY batch_id) AS d
    WHERE j.batch_id = d.batch_id
), counted AS (
    UPDATE job_count SET n = job_count.n - d.n
    FROM unnest($2::text[], $3::bigint[]) AS d(state, n) WHERE job_count.state = d.state
)
SELECT pg_notify($4, 'delete')
"""


async def cancel(
    conn: Conn, job_ids: list[int], reason: str, now: int, max_log: int, channel: str
) -> BulkOutcome:
    """Queued and executed jobs cancelled now, started ones flagged for their engine,
    finished or unknown ones skipped (inside the caller's transaction)."""
    done: list[int] = []
    asked: list[int] = []
    skipped: list[int] = []
    for job_id in job_ids:
        try:
            state = await admin.request_cancel(conn, job_id, reason, now, max_log, channel)
        except (InvalidStateError, JobNotFoundError):
            skipped.append(job_id)
            continue
        (asked if state is JobState.STARTED else done).append(job_id)
    return BulkOutcome(done=done, asked=asked, skipped=skipped)


async def requeue(
    conn: Conn, job_ids: list[int], now: int, max_log: int, channel: str
) -> BulkOutcome:
    """The failed and cancelled jobs requeued with the dependents their failure cancelled;
    the others skipped (inside the caller's transaction, rows locked as they are read)."""
    states = await lookup.locked_states(conn, job_ids, "FOR UPDATE")
    done: list[int] = []
    for job_id in job_ids:
        if job_id in done or states.get(job_id) not in REQUEUEABLE_STATES:
            continue
        done += await admin.requeue(conn, job_id, now, max_log, channel)
    changed = set(done)
    return BulkOutcome(done=done, skipped=[i for i in job_ids if i not in changed])


async def delete(conn: Conn, job_ids: list[int], channel: str) -> BulkOutcome:
    """Finished jobs forgotten: their row (live or archived), their attempts and
    dependency edges; the counts by state and their batches' counts drop by them. Ids come
    from a sequence, so none is given again."""
    states = await lookup.locked_states(conn, job_ids, "FOR UPDATE")
    deleted = [i for i in job_ids if states.get(i) in TERMINAL_STATES]
    if deleted:
        counts = Counter(states[i].value for i in deleted)
        await conn.fetch(DELETE, deleted, list(counts), list(counts.values()), channel)
    gone = set(deleted)
    return BulkOutcome(done=deleted, skipped=[i for i in job_ids if i not in gone])
