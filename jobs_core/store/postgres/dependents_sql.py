"""SQL moving on the dependents of jobs (and batches) that ended, shared by the schema's
`finish_jobs` function and the statements of `graph.py`.

A job with one parent and the default policy waits through `waiting_on` alone; one with
several parents, a batch parent (minus its number) or the `finished` policy also has a
`job_dependency` row per parent.
"""

from __future__ import annotations


def cancel_dependents_sql(stopped: str, now: str) -> str:
    """A `WITH RECURSIVE` cancelling, transitively, the queued jobs of policy `completed`
    that depend on any of the ids `stopped` (jobs, or batches as minus their number), at
    `now`: its last part, `cancelled`, has (id, message, batch_id, command, state,
    duration_ms, queue) of each."""
    return f"""
WITH RECURSIVE dependent(id, cause) AS (
    SELECT p, NULL::bigint FROM unnest({stopped}) AS p
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
    SET state = 'cancelled', waiting_on = NULL, completed_date = {now},
        last_activity_date = {now},
        error = jsonb_build_object('code', 'DependencyFailed', 'message',
            CASE WHEN c.parent < 0
                 THEN 'cancelled because batch ''' ||
                      (SELECT j.batch_id FROM job_batch j WHERE j.number = -c.parent) ||
                      ''' it depends on did not complete'
                 ELSE 'cancelled because job ' || c.parent || ' it depends on did not complete'
            END, 'stack', '', 'field_errors', '{{}}'::jsonb)
    FROM cause AS c
    WHERE b.id = c.id AND b.state = 'queued'
    RETURNING b.id, b.error ->> 'message' AS message, b.batch_id, b.command, b.state,
        b.duration_ms, b.queue
)
"""


PENDING_PARENT = """
SELECT min(e.parent_id) FROM job_dependency e
WHERE e.child_id = b.id AND (
    (e.parent_id > 0 AND EXISTS (SELECT 1 FROM background_job p WHERE p.id = e.parent_id
                                 AND p.state IN ('queued', 'started', 'executed')))
    OR (e.parent_id < 0 AND EXISTS (SELECT 1 FROM job_batch j WHERE j.number = -e.parent_id
                                    AND j.state IN ('open', 'closed'))))
"""

RELEASE_SET = f"""
waiting_on = CASE WHEN b.dependencies IS NULL AND b.depends_on_batch IS NULL
                       AND b.depends_policy IS NULL
                  THEN NULL ELSE ({PENDING_PARENT}) END
"""
"""Move a job (`b`) waiting on a parent that ended to its next pending parent, or release
it."""
