"""Batches on PostgreSQL: open batches recorded at enqueue, cancelled ones refusing new jobs.

An enqueue holds a share lock on its batches' rows until it commits, and `cancel_batch`
updates the row: whichever comes second waits for the first, so a cancel either sees the
enqueued jobs (and returns them) or the enqueue sees the batch cancelled (and refuses).
"""

from __future__ import annotations

from jobs_core.errors import BatchCancelledError

from .connection import Conn

# Rows in one order in every transaction, so two enqueues never deadlock on them.
OPEN = """
INSERT INTO job_batch (batch_id, state, created_at)
SELECT b, 'open', $2 FROM unnest($1::text[]) AS b ORDER BY b
ON CONFLICT (batch_id) DO NOTHING
"""
# A separate statement: its snapshot sees rows a rival inserted and committed while OPEN
# waited on them, and FOR SHARE returns the newest version of a row it waited for.
LOCK_ALL = """
SELECT batch_id, state FROM job_batch WHERE batch_id = ANY($1::text[])
ORDER BY batch_id FOR SHARE
"""

CANCEL = """
INSERT INTO job_batch (batch_id, state, created_at, cancelled_at, cancel_reason)
VALUES ($1, 'cancelled', $2, $2, $3)
ON CONFLICT (batch_id) DO UPDATE
SET state = 'cancelled', cancelled_at = $2, cancel_reason = $3
WHERE job_batch.state <> 'cancelled'
"""
ACTIVE = """
SELECT id FROM job_summary WHERE batch_id = $1 AND state IN ('queued', 'started', 'executed')
ORDER BY id
"""


async def open_batches(conn: Conn, batch_ids: set[str], now: int) -> None:
    """Record new batches as open; refuse the enqueue if one of them was cancelled (inside
    the enqueue's transaction)."""
    ordered = sorted(batch_ids)
    await conn.execute(OPEN, ordered, now)
    for batch_id, state in await conn.fetch(LOCK_ALL, ordered):
        if state == "cancelled":
            raise BatchCancelledError(
                f"batch '{batch_id}' was cancelled and takes no new jobs", batch_id=batch_id
            )


async def cancel_batch(conn: Conn, batch_id: str, reason: str, now: int) -> list[int]:
    """Mark the batch cancelled (recording it if new); returns its unfinished jobs' ids."""
    await conn.execute(CANCEL, batch_id, now, reason)
    return [row[0] for row in await conn.fetch(ACTIVE, batch_id)]
