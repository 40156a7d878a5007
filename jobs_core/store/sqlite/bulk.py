"""Bulk admin SQL on the live store: cancel, requeue and delete many jobs, one batch per
transaction, each job checked in the transaction that changes it (engines keep running)."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from jobs_core.errors import InvalidStateError, JobNotFoundError
from jobs_core.history import AttemptRow
from jobs_core.records import TERMINAL_STATES, Job, JobState, JobSummary

from . import admin, batches, dependencies, summaries
from .summaries import every_job


def cancel(
    conn: sqlite3.Connection, job_ids: list[int], reason: str, now: int, max_log: int
) -> tuple[list[int], list[int], list[int]]:
    """(cancelled, asked to stop, skipped): queued/executed jobs are cancelled now, started
    ones flagged for their engine; finished or unknown ones are skipped."""
    done: list[int] = []
    asked: list[int] = []
    skipped: list[int] = []
    for job_id in job_ids:
        try:
            state = admin.request_cancel(conn, job_id, reason, now, max_log)
        except (InvalidStateError, JobNotFoundError):
            skipped.append(job_id)
            continue
        (asked if state is JobState.STARTED else done).append(job_id)
    return done, asked, skipped


def requeue(
    conn: sqlite3.Connection, found: list[JobSummary], archived: dict[int, Job], now: int,
    wait_on: dict[int, int], max_log: int, archived_rows: dict[int, list[AttemptRow]],
) -> list[int]:  # fmt: skip
    """Requeue the failed/cancelled jobs of `found` still in that state (checked here, in the
    write transaction); `archived` holds the month rows of those no longer live, and
    `archived_rows` their attempts. Each keeps its history (`admin.requeue_with_history`)
    and its batch's counts follow. Returns the ids requeued."""
    current = summaries.summaries(conn, [s.id for s in found])
    requeued: list[int] = []
    previous: Counter[JobState] = Counter()
    for summary in found:
        now_summary = current.get(summary.id)
        if now_summary is None or now_summary.state not in (JobState.FAILED, JobState.CANCELLED):
            continue  # requeued, deleted or changed by someone else meanwhile
        rows = archived_rows.get(summary.id, [])
        row = archived.get(summary.id)
        if not admin.requeue_with_history(conn, summary.id, row, rows, now, max_log):
            continue  # its month file was removed: nothing to run again
        requeued.append(summary.id)
        previous[now_summary.state] += 1
        if now_summary.batch_id is not None:
            batches.after_requeue(conn, now_summary.batch_id, now_summary.state)
        if summary.id in wait_on:
            admin.wait_on(conn, summary.id, wait_on[summary.id])
    for state, n in previous.items():
        conn.execute("UPDATE job_count SET n = n - ? WHERE state = ?", (n, state.value))
    return requeued


CANCELLED_DEPENDENTS = f"""
SELECT id, depends_on FROM {every_job("depends_on IN (SELECT value FROM json_each(:ids))")}
WHERE state = 'cancelled' AND error_code = 'DependencyFailed'
UNION
SELECT e.child_id, e.parent_id FROM job_dependency e
WHERE e.parent_id IN (SELECT value FROM json_each(:ids)) AND (
    EXISTS (SELECT 1 FROM background_job b WHERE b.id = e.child_id AND b.state = 'cancelled'
            AND b.error ->> '$.code' = 'DependencyFailed')
    OR EXISTS (SELECT 1 FROM job_summary s WHERE s.id = e.child_id AND s.state = 'cancelled'
               AND s.error_code = 'DependencyFailed'))
"""
"""Dependents cancelled because a parent did not complete: (id, that parent), as the only
parent or one of several."""


def cancelled_dependents(conn: sqlite3.Connection, job_ids: list[int]) -> dict[int, int]:
    """Jobs cancelled because one of `job_ids` did not complete: dependent id → its parent."""
    rows = conn.execute(CANCELLED_DEPENDENTS, {"ids": json.dumps(job_ids)})
    return {row[0]: row[1] for row in rows}


def delete(conn: sqlite3.Connection, job_ids: list[int]) -> tuple[list[int], list[int]]:
    """(deleted, skipped): finished jobs lose their live row (if not archived yet), their
    summary and dependency edges, the all-time counters and their batches' counts drop by
    them, and the id floor keeps ids unique."""
    found = summaries.summaries(conn, job_ids)
    deleted = [i for i in job_ids if i in found and found[i].state in TERMINAL_STATES]
    skipped = [i for i in job_ids if i not in set(deleted)]
    if not deleted:
        return deleted, skipped
    encoded = json.dumps(deleted)
    conn.execute(
        "DELETE FROM background_job WHERE id IN (SELECT value FROM json_each(?)) "
        "AND state IN ('completed', 'failed', 'cancelled')",
        (encoded,),
    )
    conn.execute("DELETE FROM job_summary WHERE id IN (SELECT value FROM json_each(?))", (encoded,))
    # Attempt rows of jobs not archived yet (their month file's go with their month rows).
    conn.execute(
        "DELETE FROM job_attempt WHERE job_id IN (SELECT value FROM json_each(?))", (encoded,)
    )
    dependencies.forget(conn, encoded)
    in_batches = Counter(
        (s.batch_id, s.state) for s in (found[i] for i in deleted) if s.batch_id is not None
    )
    if in_batches:
        batches.after_delete(conn, in_batches)
    for state, n in Counter(found[i].state for i in deleted).items():
        conn.execute("UPDATE job_count SET n = n - ? WHERE state = ?", (n, state.value))
    conn.execute("UPDATE job_id_floor SET max_id = max(max_id, ?)", (max(deleted),))
    return deleted, skipped
