"""Admin SQL on PostgreSQL: lookups, counts, cancel and requeue."""

from __future__ import annotations

from jobs_core.errors import InvalidStateError, JobNotFoundError, StoreError
from jobs_core.history import AttemptRow, ending_row, requeue_row
from jobs_core.records import (
    ACTIVE_STATES,
    REQUEUEABLE_STATES,
    BatchStatus,
    JobError,
    JobState,
    JobSummary,
    ThroughputBucket,
)
from jobs_core.store.protocol import Transition
from jobs_core.store.rows import batch_fields

from . import attempts, batches, finish, lookup
from .archive import archive_table, month_bounds, month_of
from .connection import Conn
from .logs import append_logs
from .rows import (
    JOB_SELECT,
    error_to_json,
    row_to_summary,
)
from .schema import JOB_FIELDS
from .summaries import LIVE_SUMMARY_SELECT, every_job

SUMMARY = f"SELECT * FROM {every_job('id = $1')} AS s"

CANCEL_STATE = """
SELECT state FROM background_job
WHERE id = $1 AND state IN ('queued', 'started', 'executed') FOR UPDATE
"""
FLAG_CANCEL = """
UPDATE background_job SET cancel_requested = true, error = $2::jsonb WHERE id = $1
RETURNING pg_notify($3, 'cancel')
"""
PENDING_CALLBACKS = """
SELECT id FROM background_job
WHERE parent_id = $1 AND state = 'queued' AND meta ->> 'callback_for' = $1::text
"""

_REQUEUE_LOGS, _REQUEUE_TRUNCATED = append_logs("", "$4", "$5")
REQUEUE_LIVE = f"""
UPDATE background_job SET state = 'queued', attempts = 0, error = NULL, owner = NULL,
    run_after = $2, completed_date = NULL, started_date = NULL, waiting_on = $3,
    cancel_requested = false, progress = NULL, status = NULL, last_outcome = NULL,
    notify_error = NULL, logs = {_REQUEUE_LOGS}, logs_truncated = {_REQUEUE_TRUNCATED}
WHERE id = $1 AND state IN ('failed', 'cancelled') RETURNING logs
"""
_REQUEUED = {
    "state": "'queued'", "attempts": "0", "run_after": "$2", "started_date": "NULL",
    "completed_date": "NULL", "progress": "NULL", "status": "NULL", "logs": _REQUEUE_LOGS,
    "logs_truncated": _REQUEUE_TRUNCATED, "error": "NULL", "owner": "NULL",
    "last_outcome": "NULL", "notify_error": "NULL",
}  # fmt: skip
# The archived row moves back to the queue in the same transaction: never in both places.
REQUEUE_ARCHIVED = f"""
WITH moved AS (
    DELETE FROM failed_job WHERE id = $1 AND completed_date >= $6 AND completed_date < $7
    RETURNING *
)
INSERT INTO background_job ({JOB_SELECT}, waiting_on)
SELECT {", ".join(_REQUEUED.get(f, f) for f in JOB_FIELDS)}, $3
FROM moved RETURNING logs
"""
# A job back in the live table holds its ref_id there (its unique index), not in `job_ref`.
AFTER_REQUEUE = """
WITH ref AS (DELETE FROM job_ref WHERE ref_id = $3)
UPDATE job_count SET n = n - 1 WHERE state = $1 RETURNING pg_notify($2, 'requeue')
"""
# `= ANY(ARRAY(...))`, not `IN (SELECT ...)`: an array the index of ids can probe beside
# `ix_*_depends` (a bitmap OR in every month's partition), where a semi-join ORed with
# `depends_on = $1` scanned each partition (62 ms at 100,000 archived jobs).
_DEPENDENT = (
    "(depends_on = $1 OR id = ANY(ARRAY(SELECT child_id FROM job_dependency WHERE parent_id = $1)))"
)
CANCELLED_DEPENDENTS = f"""
WITH live AS (
    SELECT {LIVE_SUMMARY_SELECT} FROM background_job
    WHERE {_DEPENDENT} AND state = 'cancelled' AND error ->> 'code' = 'DependencyFailed'
    FOR UPDATE
), archived AS (
    SELECT {LIVE_SUMMARY_SELECT} FROM failed_job
    WHERE {_DEPENDENT} AND state = 'cancelled' AND error ->> 'code' = 'DependencyFailed'
    FOR UPDATE
)
SELECT * FROM live UNION ALL SELECT * FROM archived ORDER BY id
"""
REQUEUE_NOTE = "[requeue] requeued by operator\n"

DEPENDENTS = f"SELECT * FROM {every_job(_DEPENDENT)} AS s ORDER BY id"

# Queued jobs are claimable or waiting on a parent; each set has its own partial index.
COUNTS = """
SELECT state, count(*) FROM background_job
WHERE state <> 'queued' AND state IN ('started', 'executed') GROUP BY state
UNION ALL
SELECT 'queued',
    (SELECT count(*) FROM background_job WHERE state = 'queued' AND waiting_on IS NULL)
    + (SELECT count(*) FROM background_job WHERE waiting_on IS NOT NULL AND state = 'queued')
UNION ALL
SELECT state, n FROM job_count
"""

THROUGHPUT = "SELECT minute, state, n FROM job_minute WHERE minute >= $1 ORDER BY minute"

BATCH_COUNTS = f"""
SELECT state, count(*), min(started_date), max(completed_date)
FROM {every_job("batch_id = $1")} AS s GROUP BY 1
"""
_BATCH_FAILED = "batch_id = $1 AND state = 'failed'"
BATCH_FAILED = f"SELECT id FROM {every_job(_BATCH_FAILED)} AS s ORDER BY id"


async def summary(conn: Conn, job_id: int) -> JobSummary | None:
    row = await conn.fetchrow(SUMMARY, job_id)
    return row_to_summary(row) if row else None


async def request_cancel(
    conn: Conn, job_id: int, reason: str, now: int, max_log: int, channel: str
) -> JobState:
    """Cancel a queued/executed job now or flag a started one; returns the state it is in."""
    state_text = await conn.fetchval(CANCEL_STATE, job_id)
    if state_text is None:
        found = await summary(conn, job_id)
        if found is None:
            raise JobNotFoundError(f"there is no job {job_id}")
        raise InvalidStateError(
            f"job {job_id} is {found.state}; only queued, started or executed jobs can be cancelled"
        )
    state = JobState(state_text)
    error = JobError(code="Cancelled", message=reason)
    if state is JobState.STARTED:
        await conn.fetch(FLAG_CANCEL, job_id, error_to_json(error), channel)
        return state
    transitions = [Transition(job_id=job_id, state=JobState.CANCELLED, owner_guard=None,
                              error=error, logs=f"[cancel] {reason}\n")]  # fmt: skip
    if state is JobState.EXECUTED:
        for row in await conn.fetch(PENDING_CALLBACKS, job_id):
            transitions.append(
                Transition(job_id=row[0], state=JobState.CANCELLED, owner_guard=None, error=error)
            )
    await finish.finish(conn, transitions, [], now, max_log, channel)
    return JobState.CANCELLED


async def requeue(conn: Conn, job_id: int, now: int, max_log: int, channel: str) -> list[int]:
    """Requeue a failed/cancelled job and, transitively, the dependents its failure cancelled
    (each waiting on its requeued parent again); the ids, the job first."""
    found = check_requeueable(await summary(conn, job_id), job_id)
    requeued: list[int] = []
    pending: list[tuple[JobSummary, int | None]] = [(found, None)]
    while pending:
        current, parent = pending.pop(0)
        await _requeue_one(conn, current, parent, now, max_log, channel)
        requeued.append(current.id)
        rows = await conn.fetch(CANCELLED_DEPENDENTS, current.id)
        pending.extend((row_to_summary(r), current.id) for r in rows)
    return requeued


async def _requeue_one(
    conn: Conn, found: JobSummary, wait_on: int | None, now: int, max_log: int, channel: str
) -> None:
    """Requeue one job; its history gets the attempt that ended it (which its row held) and
    the requeue, and its archived attempts come back to the live table with it."""
    note = (REQUEUE_NOTE, max_log)
    current = await lookup.job_result(conn, lookup.BY_ID, found.id)
    job = current.job if current is not None else None
    rows: list[AttemptRow] = []
    logs = await conn.fetchval(REQUEUE_LIVE, found.id, now, wait_on, *note)
    if logs is None and found.completed_date is not None:
        start, end = month_bounds(month_of(found.completed_date))
        rows = await attempts.take_archived(conn, found.id, start, end)
        logs = await conn.fetchval(REQUEUE_ARCHIVED, found.id, now, wait_on, *note, start, end)
    if logs is None or job is None:
        raise StoreError(
            f"job {found.id} cannot be requeued: its row is in neither the queue nor "
            f"{archive_table(JobState.FAILED, month_of(found.completed_date or 0))} "
            "(was the month dropped?)"
        )
    seq = (
        max((r.seq for r in rows), default=0) + 1
        if rows
        else await attempts.next_seq(conn, found.id)
    )
    ending = ending_row(job, seq, now)
    if ending is not None:
        rows.append(ending)
    rows.append(requeue_row(found.id, rows[-1].seq + 1 if rows else seq, now, logs))
    await attempts.insert(conn, rows)
    if found.batch_id is not None:
        await batches.after_requeue(conn, found.batch_id, found.state)
    await conn.fetch(AFTER_REQUEUE, found.state.value, channel, found.ref_id)


def check_requeueable(found: JobSummary | None, job_id: int) -> JobSummary:
    if found is None:
        raise JobNotFoundError(f"there is no job {job_id}")
    if found.state not in REQUEUEABLE_STATES:
        raise InvalidStateError(
            f"job {job_id} is {found.state}; only failed or cancelled jobs can be requeued"
        )
    return found


async def dependents(conn: Conn, job_id: int) -> list[JobSummary]:
    return [row_to_summary(r) for r in await conn.fetch(DEPENDENTS, job_id)]


async def counts(conn: Conn) -> dict[JobState, int]:
    result = {state: 0 for state in JobState}
    for state, n in await conn.fetch(COUNTS):
        result[JobState(state)] = int(n)
    return result


async def throughput(conn: Conn, since: int) -> list[ThroughputBucket]:
    buckets: dict[int, dict[str, int]] = {}
    for minute, state, n in await conn.fetch(THROUGHPUT, since):
        buckets.setdefault(minute, {})[state] = n
    return [
        ThroughputBucket(
            minute_start=minute, completed=b.get("completed", 0),
            failed=b.get("failed", 0), cancelled=b.get("cancelled", 0),
        )
        for minute, b in buckets.items()
    ]  # fmt: skip


async def batch_status(conn: Conn, batch_id: str) -> BatchStatus:
    counts_by_state: dict[JobState, int] = {}
    started: int | None = None
    finished: int | None = None
    for state, n, first_start, last_end in await conn.fetch(BATCH_COUNTS, batch_id):
        counts_by_state[JobState(state)] = n
        if first_start is not None:
            started = first_start if started is None else min(started, first_start)
        if last_end is not None:
            finished = last_end if finished is None else max(finished, last_end)
    failed_ids = [row[0] for row in await conn.fetch(BATCH_FAILED, batch_id)]
    total = sum(counts_by_state.values())
    done = sum(n for s, n in counts_by_state.items() if s not in ACTIVE_STATES)
    fields = batch_fields(await batches.record(conn, batch_id))
    fields.setdefault("finished_at", finished if total and done == total else None)
    return BatchStatus(
        batch_id=batch_id, counts=counts_by_state, total=total, done=done,
        failed_ids=failed_ids, started_at=started, **fields,
    )  # fmt: skip


CHILDREN = f"SELECT * FROM {every_job('parent_id = $1')} AS s ORDER BY id"
BLOCKED_BY = """
SELECT id, waiting_on FROM background_job
WHERE id = ANY($1::bigint[]) AND waiting_on IS NOT NULL AND state = 'queued'
"""


async def children(conn: Conn, job_id: int) -> list[JobSummary]:
    """Jobs whose parent is `job_id`, oldest first."""
    return [row_to_summary(r) for r in await conn.fetch(CHILDREN, job_id)]


async def blocked_by(conn: Conn, job_ids: list[int]) -> dict[int, int]:
    """Queued jobs among `job_ids` still waiting on a parent, mapped to the parent's id."""
    return {row[0]: row[1] for row in await conn.fetch(BLOCKED_BY, job_ids)}
