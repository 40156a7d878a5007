"""Batches on SQLite: records with callbacks and counters, kept in the transactions that
enqueue and finish their jobs, so a batch finishes exactly once."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Mapping
from typing import Any

from jobs_core.batch_rules import (
    FAILED_IDS_LIMIT,
    BatchCounts,
    FinishedBatch,
    callback_from_json,
    callback_to_json,
    check_admits,
    closes_at_total,
    finishes,
)
from jobs_core.errors import InvalidStateError
from jobs_core.records import BatchState, JobState
from jobs_core.store.protocol import NewBatch, NewJob
from jobs_core.store.rows import BATCH_RECORD_COLUMNS

from .summaries import every_job

NEXT_NUMBER = "(SELECT coalesce(max(number), 0) + 1 FROM job_batch)"

INSERT_OPEN = f"""
INSERT INTO job_batch (batch_id, state, created_at, number) VALUES (?, 'open', ?, {NEXT_NUMBER})
"""

CREATE = f"""
INSERT INTO job_batch (batch_id, state, created_at, number, name, on_complete, on_success,
    meta, declared_total)
VALUES (:id, 'open', :now, {NEXT_NUMBER}, :name, :on_complete, :on_success, :meta, :total)
"""

JOINED = """
UPDATE job_batch AS j
SET joined = j.joined + d.value ->> 1, cancelled = j.cancelled + d.value ->> 2
FROM json_each(:deltas) AS d WHERE j.batch_id = d.value ->> 0
RETURNING batch_id, state, joined, completed, failed, cancelled, declared_total
"""

ENDED = """
UPDATE job_batch AS j
SET completed = j.completed + d.value ->> 1, failed = j.failed + d.value ->> 2,
    cancelled = j.cancelled + d.value ->> 3
FROM json_each(:deltas) AS d WHERE j.batch_id = d.value ->> 0
RETURNING batch_id, state, joined, completed, failed, cancelled
"""

# The guard on state makes the finish happen once, whoever reaches it first.
FINISH = """
UPDATE job_batch SET state = 'finished', finished_at = ?
WHERE batch_id = ? AND state = 'closed'
RETURNING number, name, meta, on_complete, on_success
"""

FAILED_IDS = f"""
SELECT id FROM {every_job("batch_id = ?1 AND state = 'failed'")} ORDER BY id LIMIT ?2
"""
"""The batch's failed jobs, live or archived (`LIMIT -1`: all)."""

CLOSE = """
UPDATE job_batch SET state = 'closed', closed_at = ? WHERE batch_id = ? AND state = 'open'
RETURNING batch_id, state, joined, completed, failed, cancelled
"""


def create(conn: sqlite3.Connection, batch: NewBatch, now: int) -> None:
    """Record a new open batch; InvalidStateError if the id is taken."""
    if conn.execute("SELECT 1 FROM job_batch WHERE batch_id = ?", (batch.id,)).fetchone():
        raise InvalidStateError(f"batch '{batch.id}' exists already")
    conn.execute(
        CREATE,
        {"id": batch.id, "now": now, "name": batch.name,
         "on_complete": callback_to_json(batch.on_complete),
         "on_success": callback_to_json(batch.on_success),
         "meta": json.dumps(batch.meta) if batch.meta else None,
         "total": batch.declared_total},
    )  # fmt: skip


def join(
    conn: sqlite3.Connection, added: Mapping[str, tuple[int, int]], now: int, *, admit: bool
) -> list[FinishedBatch]:
    """Count jobs joining batches: `added` maps a batch to (jobs, of which cancelled).

    With `admit` (an ordinary enqueue, not a follow-up of a job already in the batch) an
    unknown batch is recorded as open, and a cancelled, closed or finished batch, or one
    whose declared total would be passed, refuses the jobs. Runs in the enqueue
    transaction, so no job slips into a batch being cancelled or closed. Returns batches that
    finished (only when jobs join already cancelled).
    """
    if admit:
        _admit(conn, added, now)
    deltas = json.dumps([[b, n, k] for b, (n, k) in sorted(added.items())])
    ready: list[BatchCounts] = []
    for row in conn.execute(JOINED, {"deltas": deltas}).fetchall():
        counts = _counts(row)
        if closes_at_total(counts.state, counts.joined, row[6]):
            closed = conn.execute(CLOSE, (now, counts.batch_id)).fetchone()
            counts = _counts(closed)
        ready.append(counts)
    return _finish_ready(conn, ready, now)


def _admit(conn: sqlite3.Connection, added: Mapping[str, tuple[int, int]], now: int) -> None:
    ids = sorted(added)
    rows = conn.execute(
        "SELECT batch_id, state, declared_total, joined FROM job_batch "
        "WHERE batch_id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    ).fetchall()
    for batch_id, state, total, joined in rows:
        check_admits(batch_id, BatchState(state), total, joined + added[batch_id][0])
    new = set(ids) - {row[0] for row in rows}
    for batch_id in sorted(new):
        conn.execute(INSERT_OPEN, (batch_id, now))


def ended(
    conn: sqlite3.Connection, deltas: Mapping[str, Counter[JobState]], now: int
) -> list[FinishedBatch]:
    """Count jobs of batches that reached a terminal state; returns the batches that
    finished with them (each exactly once)."""
    encoded = json.dumps(
        [[b, c[JobState.COMPLETED], c[JobState.FAILED], c[JobState.CANCELLED]]
         for b, c in sorted(deltas.items())]
    )  # fmt: skip
    rows = conn.execute(ENDED, {"deltas": encoded}).fetchall()
    return _finish_ready(conn, [_counts(r) for r in rows], now)


def close(conn: sqlite3.Connection, batch_id: str, now: int) -> list[FinishedBatch]:
    """Close an open batch; finish it at once if every job already ended."""
    row = conn.execute(CLOSE, (now, batch_id)).fetchone()
    if row is None:
        return []
    return _finish_ready(conn, [_counts(row)], now)


def _counts(row: tuple[Any, ...]) -> BatchCounts:
    return BatchCounts(
        batch_id=row[0], state=BatchState(row[1]), joined=row[2], completed=row[3],
        failed=row[4], cancelled=row[5],
    )  # fmt: skip


def _finish_ready(
    conn: sqlite3.Connection, batches: list[BatchCounts], now: int
) -> list[FinishedBatch]:
    finished: list[FinishedBatch] = []
    for counts in batches:
        if not finishes(counts):
            continue
        row = conn.execute(FINISH, (now, counts.batch_id)).fetchone()
        if row is None:
            continue
        number, name, meta, on_complete, on_success = row
        failed_ids = failed_ids_of(conn, counts.batch_id, FAILED_IDS_LIMIT)
        batch = FinishedBatch(
            counts=counts, number=number, name=name, meta=json.loads(meta) if meta else {},
            on_complete=callback_from_json(on_complete),
            on_success=callback_from_json(on_success), failed_ids=failed_ids, finished_at=now,
        )  # fmt: skip
        finished.append(batch)
    return finished


def failed_ids_of(conn: sqlite3.Connection, batch_id: str, limit: int | None) -> list[int]:
    """The ids of the batch's failed jobs, oldest first, at most `limit` (None: all)."""
    rows = conn.execute(FAILED_IDS, (batch_id, -1 if limit is None else limit))
    return [row[0] for row in rows]


def cancel_batch(
    conn: sqlite3.Connection, batch_id: str, reason: str, now: int
) -> tuple[list[int], int | None]:
    """Mark the batch cancelled (recording it if new); returns its unfinished jobs' ids and
    its number if this call cancelled it (its dependents are then settled by the caller)."""
    row = conn.execute(
        f"INSERT INTO job_batch (batch_id, state, created_at, cancelled_at, cancel_reason, "
        f"number) VALUES (:id, 'cancelled', :now, :now, :reason, {NEXT_NUMBER}) "
        "ON CONFLICT (batch_id) DO UPDATE "
        "SET state = 'cancelled', cancelled_at = :now, cancel_reason = :reason "
        "WHERE state NOT IN ('cancelled', 'finished') RETURNING number",
        {"id": batch_id, "now": now, "reason": reason},
    ).fetchone()
    # Unfinished jobs are all live.
    rows = conn.execute(
        "SELECT id FROM background_job WHERE batch_id = ? AND state IN "
        "('queued', 'started', 'executed') ORDER BY id",
        (batch_id,),
    )
    return [r[0] for r in rows], (row[0] if row else None)


def record(conn: sqlite3.Connection, batch_id: str) -> tuple[Any, ...] | None:
    """The batch's row (`rows.BATCH_RECORD_COLUMNS`), or None."""
    row: tuple[Any, ...] | None = conn.execute(
        f"SELECT {BATCH_RECORD_COLUMNS} FROM job_batch WHERE batch_id = ?", (batch_id,)
    ).fetchone()
    return row


def after_requeue(conn: sqlite3.Connection, batch_id: str, previous: JobState) -> None:
    """A requeued job of the batch is no longer ended (a finished batch stays finished: its
    callbacks ran once)."""
    column = {JobState.FAILED: "failed", JobState.CANCELLED: "cancelled"}[previous]
    conn.execute(
        f"UPDATE job_batch SET {column} = max(0, {column} - 1) WHERE batch_id = ?", (batch_id,)
    )


def after_delete(conn: sqlite3.Connection, removed: Counter[tuple[str, JobState]]) -> None:
    """Deleted jobs (by batch and their final state) no longer count in their batch: it
    joined fewer, and fewer ended (its callbacks' counts then match its jobs)."""
    per_batch: dict[str, Counter[JobState]] = {}
    for (batch_id, state), n in removed.items():
        per_batch.setdefault(batch_id, Counter())[state] += n
    conn.executemany(
        "UPDATE job_batch SET joined = max(0, joined - :n), "
        "completed = max(0, completed - :completed), failed = max(0, failed - :failed), "
        "cancelled = max(0, cancelled - :cancelled) WHERE batch_id = :batch_id",
        [
            {"batch_id": batch_id, "n": c.total(), "completed": c[JobState.COMPLETED],
             "failed": c[JobState.FAILED], "cancelled": c[JobState.CANCELLED]}
            for batch_id, c in per_batch.items()
        ],
    )  # fmt: skip


def record_callbacks(conn: sqlite3.Connection, jobs: list[NewJob], ids: list[int]) -> None:
    """Note on each finished batch the ids of the callback jobs it enqueued."""
    by_batch: dict[str, list[int]] = {}
    for job, job_id in zip(jobs, ids, strict=True):
        for key in ("batch_complete_for", "batch_success_for"):
            if key in job.meta:
                by_batch.setdefault(job.meta[key], []).append(job_id)
    conn.executemany(
        "UPDATE job_batch SET callback_ids = ? WHERE batch_id = ?",
        [(json.dumps(i), b) for b, i in by_batch.items()],
    )
