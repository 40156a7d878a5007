"""What jobs ending do to the jobs and batches around them on PostgreSQL, inside the
transaction that ends them: dependents cancelled (transitively, under the `completed`
policy) or moved on to their next pending parent, batch counters, finished batches and
their callbacks, and the dependents of those batches in turn.

A job with one parent and the default policy waits through `waiting_on` alone; one with
several parents, a batch parent (minus its number) or the `finished` policy also has a
`job_dependency` row per parent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from jobs_core.batch_rules import FinishedBatch, follow_ups
from jobs_core.records import JobState
from jobs_core.store.protocol import NewJob

from . import batches
from .connection import Conn

CANCEL_DEPENDENTS = """
WITH RECURSIVE dependent(id, cause) AS (
    SELECT p, NULL::bigint FROM unnest($1::bigint[]) AS p
    UNION
    SELECT x.child, d.id FROM dependent d CROSS JOIN LATERAL (
        SELECT b.id AS child FROM background_job b
        WHERE b.waiting_on = d.id AND b.state = 'queued' AND b.depends_policy IS NULL
        UNION ALL
        SELECT e.child_id FROM job_dependency e JOIN background_job b ON b.id = e.child_id
        WHERE e.parent_id = d.id AND b.state = 'queued' AND b.depends_policy IS NULL
    ) AS x
), cause AS (
    SELECT id, min(cause) AS parent FROM dependent WHERE cause IS NOT NULL GROUP BY id
), cancelled AS (
    UPDATE background_job AS b
    SET state = 'cancelled', waiting_on = NULL, completed_date = $2, last_activity_date = $2,
        error = jsonb_build_object('code', 'DependencyFailed', 'message',
            CASE WHEN c.parent < 0
                 THEN 'cancelled because batch ''' ||
                      (SELECT j.batch_id FROM job_batch j WHERE j.number = -c.parent) ||
                      ''' it depends on did not complete'
                 ELSE 'cancelled because job ' || c.parent || ' it depends on did not complete'
            END, 'stack', '', 'field_errors', '{}'::jsonb)
    FROM cause AS c
    WHERE b.id = c.id AND b.state = 'queued'
    RETURNING b.id, b.error ->> 'message' AS message, b.batch_id
), summary AS (
    UPDATE job_summary AS s
    SET state = 'cancelled', completed_date = $2, error_code = 'DependencyFailed',
        error_message = c.message
    FROM cancelled AS c WHERE s.id = c.id
)
SELECT id, batch_id FROM cancelled
"""
"""Cancel, transitively, the queued jobs of policy `completed` that depend on any of `$1`
(jobs, or batches as minus their number); they stay in the live table until the archive
pass moves them (rare)."""

PENDING_PARENT = """
SELECT min(e.parent_id) FROM job_dependency e
WHERE e.child_id = b.id AND (
    (e.parent_id > 0 AND EXISTS (SELECT 1 FROM job_summary s WHERE s.id = e.parent_id
                                 AND s.state IN ('queued', 'started', 'executed')))
    OR (e.parent_id < 0 AND EXISTS (SELECT 1 FROM job_batch j WHERE j.number = -e.parent_id
                                    AND j.state IN ('open', 'closed'))))
"""

RELEASE_SET = f"""
waiting_on = CASE WHEN b.dependencies IS NULL AND b.depends_on_batch IS NULL
                       AND b.depends_policy IS NULL
                  THEN NULL ELSE ({PENDING_PARENT}) END
"""
"""Move a job waiting on a parent that ended to its next pending parent, or release it."""

RELEASE = f"""
UPDATE background_job AS b SET {RELEASE_SET}
WHERE b.waiting_on = ANY($1::bigint[]) AND b.state = 'queued'
RETURNING b.id, b.waiting_on
"""


BatchDeltas = defaultdict[str, Counter[JobState]]


def new_deltas() -> BatchDeltas:
    return defaultdict(Counter)


@dataclass(slots=True)
class Settled:
    """What settling did beyond the jobs that ended."""

    cancelled: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    follow_ups: list[NewJob] = field(default_factory=list)
    finished_batches: list[str] = field(default_factory=list)


async def cancel_dependents(
    conn: Conn, stopped: list[int], now: int
) -> list[tuple[int, str | None]]:
    """Cancel the dependents that needed one of `stopped` to complete; (id, batch_id) each."""
    if not stopped:
        return []
    return [(r[0], r[1]) for r in await conn.fetch(CANCEL_DEPENDENTS, stopped, now)]


async def release(conn: Conn, ended: list[int]) -> list[int]:
    """Jobs waiting on one of `ended` go on to their next pending parent or are released;
    the released ones."""
    if not ended:
        return []
    return [r[0] for r in await conn.fetch(RELEASE, ended) if r[1] is None]


async def settle_batches(
    conn: Conn, deltas: BatchDeltas, now: int, finished: list[FinishedBatch] | None = None
) -> Settled:
    """Count terminal jobs on their batches; a batch that finishes enqueues its callbacks
    (returned as `follow_ups`) and ends for its own dependents, which may end more jobs of
    other batches, until nothing changes."""
    done = Settled()
    pending = list(finished or [])
    while True:
        if deltas:
            pending += await batches.ended(conn, deltas, now)
            deltas.clear()
        if not pending:
            return done
        ended = [-b.number for b in pending]
        stop = [-b.number for b in pending if b.counts.failed or b.counts.cancelled]
        for batch in pending:
            done.follow_ups += follow_ups(batch)
            done.finished_batches.append(batch.counts.batch_id)
        pending = []
        cascade = await cancel_dependents(conn, stop, now)
        for job_id, batch_id in cascade:
            done.cancelled.append(job_id)
            if batch_id is not None:
                deltas[batch_id][JobState.CANCELLED] += 1
        done.released += await release(conn, ended + [job_id for job_id, _ in cascade])
