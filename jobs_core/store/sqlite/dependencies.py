"""Dependencies on SQLite: how new jobs start given their parents, and what a parent (or a
batch) ending does to the jobs waiting on it.

A job with one parent and the default policy waits through `waiting_on` alone (as it always
did). One with several parents, a batch parent or the `finished` policy also gets a
`job_dependency` row per parent (a batch as minus its number); `waiting_on` then holds one
pending parent, moved on to the next when it ends, and cleared when none is left.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from jobs_core.dependency_rules import Start, parents_of, starts_of
from jobs_core.records import JobState
from jobs_core.store.protocol import NewJob

CANCEL_DEPENDENTS = """
WITH RECURSIVE dependent(id, cause) AS (
    SELECT value, NULL FROM json_each(:ids)
    UNION
    SELECT b.id, d.id FROM dependent d JOIN background_job b ON b.waiting_on = d.id
    WHERE b.state = 'queued' AND b.depends_policy IS NULL
    UNION
    SELECT e.child_id, d.id FROM dependent d JOIN job_dependency e ON e.parent_id = d.id
    JOIN background_job b ON b.id = e.child_id
    WHERE b.state = 'queued' AND b.depends_policy IS NULL
), cause(id, parent) AS (
    SELECT id, min(cause) FROM dependent WHERE cause IS NOT NULL GROUP BY id
)
UPDATE background_job AS b
SET state = 'cancelled', waiting_on = NULL, completed_date = :now, last_activity_date = :now,
    error = json_object('code', 'DependencyFailed', 'message',
        CASE WHEN c.parent < 0
             THEN 'cancelled because batch ''' ||
                  (SELECT batch_id FROM job_batch WHERE number = -c.parent) ||
                  ''' it depends on did not complete'
             ELSE 'cancelled because job ' || c.parent || ' it depends on did not complete'
        END, 'stack', '', 'field_errors', json('{}'))
FROM cause AS c
WHERE b.id = c.id AND b.state = 'queued'
RETURNING id, batch_id, queue
"""
"""Cancel, transitively, the queued jobs of policy `completed` that depend on any of `:ids`
(jobs, or batches as minus their number)."""

PENDING_PARENT = """
SELECT min(e.parent_id) FROM job_dependency e
WHERE e.child_id = background_job.id AND (
    (e.parent_id > 0 AND EXISTS (SELECT 1 FROM background_job p WHERE p.id = e.parent_id
                                 AND p.state IN ('queued', 'started', 'executed')))
    OR (e.parent_id < 0 AND EXISTS (SELECT 1 FROM job_batch j WHERE j.number = -e.parent_id
                                    AND j.state IN ('open', 'closed'))))
"""

RELEASE = f"""
UPDATE background_job
SET waiting_on = CASE WHEN dependencies IS NULL AND depends_on_batch IS NULL
                           AND depends_policy IS NULL
                      THEN NULL ELSE ({PENDING_PARENT}) END
WHERE waiting_on IN (SELECT value FROM json_each(?)) AND state = 'queued'
RETURNING id, waiting_on
"""
"""Move the jobs waiting on any of the ended parents to another pending parent, or release
them (`waiting_on` NULL) when none is left."""

PARENT_STATES = """
SELECT id, state FROM background_job WHERE id IN (SELECT value FROM json_each(?1))
UNION ALL
SELECT id, state FROM job_summary WHERE id IN (SELECT value FROM json_each(?1))
"""
"""Parents' states, live or archived (a job is in one table or the other)."""

BATCH_PARENTS = """
SELECT batch_id, number, state, failed + cancelled FROM job_batch
WHERE batch_id IN (SELECT value FROM json_each(?))
"""


def starts(conn: sqlite3.Connection, jobs: list[NewJob]) -> list[Start]:
    """How each new job starts, given its parents' states read in this transaction."""
    parent_ids = {p for j in jobs for p in _parents(j)}
    states: dict[int, JobState] = {}
    if parent_ids:
        rows = conn.execute(PARENT_STATES, (json.dumps(sorted(parent_ids)),))
        states = {row[0]: JobState(row[1]) for row in rows}
    batch_ids = {j.depends_on_batch for j in jobs if j.depends_on_batch is not None}
    batches: list[Any] = []
    if batch_ids:
        batches = conn.execute(BATCH_PARENTS, (json.dumps(sorted(batch_ids)),)).fetchall()
    return starts_of(jobs, states, batches)


def _parents(job: NewJob) -> list[int]:
    return parents_of(job.depends_on, job.dependencies)


def record_edges(conn: sqlite3.Connection, jobs: list[NewJob], ids: list[int]) -> None:
    """A `job_dependency` row per parent of each job that waits the rare way (several
    parents, a batch, or the `finished` policy)."""
    rows: list[tuple[int, int]] = []
    numbers: dict[str, int] = {}
    for job, job_id in zip(jobs, ids, strict=True):
        if not job.waits:
            continue
        rows.extend((parent, job_id) for parent in _parents(job))
        batch_id = job.depends_on_batch
        if batch_id is not None:
            if batch_id not in numbers:
                numbers[batch_id] = _batch_number(conn, batch_id)
            rows.append((-numbers[batch_id], job_id))
    if rows:
        conn.executemany(
            "INSERT OR IGNORE INTO job_dependency (parent_id, child_id) VALUES (?, ?)", rows
        )


def _batch_number(conn: sqlite3.Connection, batch_id: str) -> int:
    row = conn.execute("SELECT number FROM job_batch WHERE batch_id = ?", (batch_id,)).fetchone()
    return int(row[0])


def cancel_dependents(
    conn: sqlite3.Connection, stopped: list[int], now: int
) -> list[tuple[int, str | None, str]]:
    """Cancel, transitively, the jobs that needed one of `stopped` to complete; returns
    (id, batch_id, queue) of each. Does not update `job_count`; the caller counts them."""
    if not stopped:
        return []
    rows = conn.execute(CANCEL_DEPENDENTS, {"ids": json.dumps(stopped), "now": now}).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


ANY_WAITING = """
SELECT 1 FROM background_job INDEXED BY ix_job_waiting WHERE waiting_on IS NOT NULL LIMIT 1
"""
"""Whether any job waits on a parent or a batch: mostly none, and one probe of the index
costs less than `RELEASE`'s probe of each ended job (~40 µs a finish of 100, measured)."""


def release(conn: sqlite3.Connection, ended: list[int]) -> list[int]:
    """Jobs waiting on one of `ended` wait on their next pending parent, or are released;
    returns the released ones."""
    if not ended or conn.execute(ANY_WAITING).fetchone() is None:
        return []
    rows = conn.execute(RELEASE, (json.dumps(ended),)).fetchall()
    return [row[0] for row in rows if row[1] is None]


def forget(conn: sqlite3.Connection, job_ids: str) -> None:
    """Remove the dependency edges of removed jobs (`job_ids`, a JSON list), as parent or
    as child."""
    conn.execute(
        "DELETE FROM job_dependency WHERE child_id IN (SELECT value FROM json_each(:ids)) "
        "OR parent_id IN (SELECT value FROM json_each(:ids))",
        {"ids": job_ids},
    )
