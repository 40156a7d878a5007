"""Batches on SQLite: open batches recorded at enqueue, cancelled ones refusing new jobs."""

from __future__ import annotations

import json
import sqlite3

from jobs_core.errors import BatchCancelledError


def open_batches(conn: sqlite3.Connection, batch_ids: set[str], now: int) -> None:
    """Record new batches as open; refuse the enqueue if one of them was cancelled.

    Runs in the enqueue transaction, so a job cannot slip into a batch being cancelled.
    """
    if len(batch_ids) == 1:
        rows = conn.execute(
            "SELECT batch_id, state FROM job_batch WHERE batch_id = ?", tuple(batch_ids)
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT batch_id, state FROM job_batch "
            "WHERE batch_id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(batch_ids)),),
        ).fetchall()
    for batch_id, state in rows:
        if state == "cancelled":
            raise BatchCancelledError(
                f"batch '{batch_id}' was cancelled and takes no new jobs", batch_id=batch_id
            )
    new = batch_ids - {row[0] for row in rows}
    if new:
        conn.executemany(
            "INSERT INTO job_batch (batch_id, state, created_at) VALUES (?, 'open', ?)",
            [(batch_id, now) for batch_id in sorted(new)],
        )


def cancel_batch(conn: sqlite3.Connection, batch_id: str, reason: str, now: int) -> list[int]:
    """Mark the batch cancelled (recording it if new); returns its unfinished jobs' ids."""
    conn.execute(
        "INSERT INTO job_batch (batch_id, state, created_at, cancelled_at, cancel_reason) "
        "VALUES (:id, 'cancelled', :now, :now, :reason) ON CONFLICT (batch_id) DO UPDATE "
        "SET state = 'cancelled', cancelled_at = :now, cancel_reason = :reason "
        "WHERE state <> 'cancelled'",
        {"id": batch_id, "now": now, "reason": reason},
    )
    rows = conn.execute(
        "SELECT id FROM job_summary WHERE batch_id = ? AND state IN "
        "('queued', 'started', 'executed') ORDER BY id",
        (batch_id,),
    )
    return [row[0] for row in rows]
