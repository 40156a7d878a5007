"""Admin SQL on the live store: lookups, counts, cancel and requeue."""

from __future__ import annotations

import json
import sqlite3

from jobs_core.errors import InvalidStateError, JobNotFoundError
from jobs_core.history import AttemptRow, ending_row, requeue_row
from jobs_core.log_cap import cap_logs
from jobs_core.records import (
    ACTIVE_STATES,
    REQUEUEABLE_STATES,
    BatchStatus,
    Job,
    JobError,
    JobState,
    JobSummary,
    ThroughputBucket,
)
from jobs_core.store.protocol import Transition
from jobs_core.store.rows import batch_fields

from . import attempts, batches, queue, summaries
from .logs import append_logs
from .rows import JOB_SELECT, error_to_json, job_to_row, row_to_job, row_to_summary
from .schema import JOB_FIELDS
from .summaries import every_job


def live_job(conn: sqlite3.Connection, job_id: int) -> Job | None:
    row = conn.execute(f"SELECT {JOB_SELECT} FROM background_job WHERE id = ?", (job_id,))
    found = row.fetchone()
    return row_to_job(found) if found else None


def request_cancel(
    conn: sqlite3.Connection, job_id: int, reason: str, now: int, max_log: int
) -> JobState:
    """Cancel a queued/executed job now or flag a started one; returns the state it is in."""
    row = conn.execute(
        "SELECT state FROM background_job WHERE id = ? AND state IN "
        "('queued', 'started', 'executed')",
        (job_id,),
    ).fetchone()
    if row is None:
        found = summaries.summary(conn, job_id)
        if found is None:
            raise JobNotFoundError(f"there is no job {job_id}")
        raise InvalidStateError(
            f"job {job_id} is {found.state}; only queued, started or executed jobs can be cancelled"
        )
    state = JobState(row[0])
    if state is JobState.STARTED:
        conn.execute(
            "UPDATE background_job SET cancel_requested = 1, error = ? WHERE id = ?",
            (error_to_json(JobError(code="Cancelled", message=reason)), job_id),
        )
        return state
    error = JobError(code="Cancelled", message=reason)
    transitions = [Transition(job_id=job_id, state=JobState.CANCELLED, owner_guard=None,
                              error=error, logs=f"[cancel] {reason}\n")]  # fmt: skip
    if state is JobState.EXECUTED:
        for (callback_id,) in conn.execute(
            "SELECT id FROM background_job WHERE parent_id = ? AND state = 'queued' "
            "AND json_extract(meta, '$.callback_for') = ?",
            (job_id, str(job_id)),
        ).fetchall():
            transitions.append(
                Transition(job_id=callback_id, state=JobState.CANCELLED, owner_guard=None,
                           error=error)
            )  # fmt: skip
    queue.finish(conn, transitions, [], now, max_log)
    return JobState.CANCELLED


REQUEUED_LOG = "[requeue] requeued by operator\n"

_REQUEUE_LOGS, _REQUEUE_TRUNCATED = append_logs("", ":line", ":max_log")
REQUEUE_LIVE = f"""
UPDATE background_job SET state = 'queued', attempts = 0, error = NULL, owner = NULL,
    run_after = :now, completed_date = NULL, started_date = NULL, waiting_on = NULL,
    cancel_requested = 0, progress = NULL, status = NULL, key_parked = 0,
    last_outcome = NULL, notify_error = NULL,
    logs = {_REQUEUE_LOGS}, logs_truncated = {_REQUEUE_TRUNCATED}
WHERE id = :id AND state IN ('failed', 'cancelled') RETURNING logs
"""


def requeue_live(conn: sqlite3.Connection, job_id: int, now: int, max_log: int) -> str | None:
    """Requeue a failed/cancelled job still in the live table; its logs with the requeue
    note, or None if it is not there."""
    row = conn.execute(
        REQUEUE_LIVE, {"now": now, "line": REQUEUED_LOG, "max_log": max_log, "id": job_id}
    ).fetchone()
    return None if row is None else str(row[0])


def requeue_archived(conn: sqlite3.Connection, job: Job, now: int, max_log: int) -> str:
    """Put an archived failed/cancelled job back in the live table as queued; returns its
    logs with the requeue note."""
    values = dict(zip(JOB_FIELDS, job_to_row(job), strict=True))
    logs = (job.logs or "") + REQUEUED_LOG
    values.update(
        state="queued", attempts=0, error=None, owner=None, run_after=now, completed_date=None,
        started_date=None, progress=None, status=None, logs=cap_logs(logs, max_log),
        logs_truncated=int(job.logs_truncated or len(logs) > max_log),
        last_outcome=None, notify_error=None,
    )  # fmt: skip
    conn.execute(
        f"INSERT OR REPLACE INTO background_job ({', '.join(JOB_FIELDS)}) "
        f"VALUES ({', '.join('?' for _ in JOB_FIELDS)})",
        [values[name] for name in JOB_FIELDS],
    )
    return str(values["logs"])


def requeue_with_history(
    conn: sqlite3.Connection, job_id: int, archived: Job | None, archived_rows: list[AttemptRow],
    now: int, max_log: int,
) -> bool:  # fmt: skip
    """Put a failed/cancelled job back in the queue, from the live table or else from its
    month row `archived` (whose attempt rows, `archived_rows`, come back with it); its
    history gets the attempt that ended it, then the requeue. False if it is in neither."""
    live = live_job(conn, job_id)
    if live is not None and live.state in REQUEUEABLE_STATES:
        rows, seq = [], attempts.next_seq(conn, job_id)
        ending = ending_row(live, seq, now)
        logs = requeue_live(conn, job_id, now, max_log) or live.logs
    elif archived is not None:
        rows = list(archived_rows)
        seq = max((r.seq for r in rows), default=0) + 1
        ending = ending_row(archived, seq, now)
        logs = requeue_archived(conn, archived, now, max_log)
        summaries.unarchive(conn, [job_id])
    else:
        return False
    if ending is not None:
        rows.append(ending)
    rows.append(requeue_row(job_id, rows[-1].seq + 1 if rows else seq, now, logs))
    attempts.insert(conn, rows)
    return True


def after_requeue(conn: sqlite3.Connection, job_id: int, previous: JobState) -> None:
    """Counters of a requeued job (now in the live table) and of its batch."""
    row = conn.execute("SELECT batch_id FROM background_job WHERE id = ?", (job_id,)).fetchone()
    if row is not None and row[0] is not None:
        batches.after_requeue(conn, row[0], previous)
    conn.execute("UPDATE job_count SET n = n - 1 WHERE state = ?", (previous.value,))


DEPENDS_ON_ID = (
    "(depends_on = :id OR id IN (SELECT child_id FROM job_dependency WHERE parent_id = :id))"
)
"""Jobs that depend on job `:id`, as their only parent or one of several."""

DEPENDENTS = f"SELECT * FROM {every_job(DEPENDS_ON_ID)} ORDER BY id"
CANCELLED_DEPENDENTS = (
    f"SELECT * FROM {every_job(DEPENDS_ON_ID)} "
    "WHERE state = 'cancelled' AND error_code = 'DependencyFailed' ORDER BY id"
)
CHILDREN = f"SELECT * FROM {every_job('parent_id = ?1')} ORDER BY id"
BATCH_STATES = (
    "SELECT state, count(*), min(started_date), max(completed_date) "
    f"FROM {every_job('batch_id = ?1')} GROUP BY state"
)


def dependents(conn: sqlite3.Connection, job_id: int) -> list[JobSummary]:
    """Jobs that depend on `job_id` (as their only parent or one of several), oldest first."""
    rows = conn.execute(DEPENDENTS, {"id": job_id}).fetchall()
    return [row_to_summary(r) for r in rows]


def children(conn: sqlite3.Connection, job_id: int) -> list[JobSummary]:
    """Jobs whose parent is `job_id`, oldest first."""
    rows = conn.execute(CHILDREN, (job_id,)).fetchall()
    return [row_to_summary(r) for r in rows]


def blocked_by(conn: sqlite3.Connection, job_ids: list[int]) -> dict[int, int]:
    """Queued jobs among `job_ids` still waiting on a parent, mapped to the parent's id."""
    rows = conn.execute(
        "SELECT id, waiting_on FROM background_job WHERE id IN (SELECT value FROM json_each(?)) "
        "AND waiting_on IS NOT NULL AND state = 'queued'",
        (encode_ids(job_ids),),
    )
    return {row[0]: row[1] for row in rows}


def dependents_cancelled_by(conn: sqlite3.Connection, job_id: int) -> list[JobSummary]:
    """Jobs that depend on `job_id` and were cancelled because it did not complete."""
    rows = conn.execute(CANCELLED_DEPENDENTS, {"id": job_id}).fetchall()
    return [row_to_summary(r) for r in rows]


def wait_on(conn: sqlite3.Connection, job_id: int, parent_id: int) -> None:
    """Make a requeued dependent wait for its requeued parent again."""
    conn.execute("UPDATE background_job SET waiting_on = ? WHERE id = ?", (parent_id, job_id))


def check_requeueable(found: JobSummary | None, job_id: int) -> JobSummary:
    if found is None:
        raise JobNotFoundError(f"there is no job {job_id}")
    if found.state not in REQUEUEABLE_STATES:
        raise InvalidStateError(
            f"job {job_id} is {found.state}; only failed or cancelled jobs can be requeued"
        )
    return found


def counts(conn: sqlite3.Connection) -> dict[JobState, int]:
    result = {state: 0 for state in JobState}
    for state, n in conn.execute(
        "SELECT state, count(*) FROM background_job INDEXED BY ix_job_state "
        "WHERE state <> 'queued' AND state IN ('started', 'executed') GROUP BY state"
    ):
        result[JobState(state)] = n
    # Queued jobs are claimable, waiting on a parent or parked by their key; each set has
    # its own index.
    claimable = conn.execute(
        "SELECT count(*) FROM background_job INDEXED BY ix_job_ready "
        "WHERE state = 'queued' AND waiting_on IS NULL AND key_parked = 0"
    ).fetchone()[0]
    parked = conn.execute(
        "SELECT count(*) FROM background_job INDEXED BY ix_job_key_parked "
        "WHERE key_parked = 1 AND state = 'queued'"
    ).fetchone()[0]
    waiting = conn.execute(
        "SELECT count(*) FROM background_job INDEXED BY ix_job_waiting "
        "WHERE waiting_on IS NOT NULL AND state = 'queued'"
    ).fetchone()[0]
    result[JobState.QUEUED] = claimable + waiting + parked
    for state, n in conn.execute("SELECT state, n FROM job_count"):
        if JobState(state) not in ACTIVE_STATES:
            result[JobState(state)] = n
    return result


def throughput(conn: sqlite3.Connection, since: int) -> list[ThroughputBucket]:
    buckets: dict[int, dict[str, int]] = {}
    for minute, state, n in conn.execute(
        "SELECT minute, state, n FROM job_minute WHERE minute >= ? ORDER BY minute", (since,)
    ):
        buckets.setdefault(minute, {})[state] = n
    return [
        ThroughputBucket(
            minute_start=minute,
            completed=b.get("completed", 0),
            failed=b.get("failed", 0),
            cancelled=b.get("cancelled", 0),
        )
        for minute, b in buckets.items()
    ]


def batch_status(conn: sqlite3.Connection, batch_id: str) -> BatchStatus:
    counts_by_state: dict[JobState, int] = {}
    started: int | None = None
    finished: int | None = None
    for state, n, first_start, last_end in conn.execute(BATCH_STATES, (batch_id,)):
        counts_by_state[JobState(state)] = n
        if first_start is not None:
            started = first_start if started is None else min(started, first_start)
        if last_end is not None:
            finished = last_end if finished is None else max(finished, last_end)
    failed_ids = batches.failed_ids_of(conn, batch_id, None)
    total = sum(counts_by_state.values())
    done = sum(n for s, n in counts_by_state.items() if s not in ACTIVE_STATES)
    fields = batch_fields(batches.record(conn, batch_id))
    fields.setdefault("finished_at", finished if total and done == total else None)
    return BatchStatus(
        batch_id=batch_id, counts=counts_by_state, total=total, done=done,
        failed_ids=failed_ids, started_at=started, **fields,
    )  # fmt: skip


def encode_ids(ids: list[int]) -> str:
    return json.dumps(ids)
