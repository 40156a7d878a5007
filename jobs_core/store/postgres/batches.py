"""Batches on PostgreSQL: records with callbacks and counters, kept in the transactions that
enqueue and finish their jobs, so a batch finishes exactly once.

Every change to a batch's counters or state locks its row (rows in batch order, so two
transactions never deadlock on them): an enqueue and a cancel, or two engines finishing
the batch's last jobs, take turns, and the second sees what the first committed.
"""

from __future__ import annotations

import json
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

from .connection import Conn
from .summaries import every_job

OPEN = """
INSERT INTO job_batch (batch_id, state, created_at)
SELECT b, 'open', $2 FROM unnest($1::text[]) AS b ORDER BY b
ON CONFLICT (batch_id) DO NOTHING
"""
# A separate statement: its snapshot sees rows a rival inserted and committed while OPEN
# waited on them, and FOR UPDATE returns the newest version of a row it waited for.
LOCK = """
SELECT batch_id, state, declared_total, joined FROM job_batch
WHERE batch_id = ANY($1::text[]) ORDER BY batch_id FOR UPDATE
"""
COUNTERS = "batch_id, state, joined, completed, failed, cancelled, declared_total"
JOINED = f"""
UPDATE job_batch AS j SET joined = j.joined + d.n, cancelled = j.cancelled + d.k
FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS d(b, n, k) WHERE j.batch_id = d.b
RETURNING {", ".join("j." + c for c in COUNTERS.split(", "))}
"""
ENDED = f"""
UPDATE job_batch AS j
SET completed = j.completed + d.c, failed = j.failed + d.f, cancelled = j.cancelled + d.x
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS d(b, c, f, x)
WHERE j.batch_id = d.b
RETURNING {", ".join("j." + c for c in COUNTERS.split(", "))}
"""
CLOSE = f"""
UPDATE job_batch SET state = 'closed', closed_at = $1 WHERE batch_id = $2 AND state = 'open'
RETURNING {COUNTERS}
"""
# The guard on state makes the finish happen once, whoever reaches it first.
FINISH = """
UPDATE job_batch SET state = 'finished', finished_at = $1
WHERE batch_id = $2 AND state = 'closed'
RETURNING number, name, meta::text, on_complete::text, on_success::text
"""
_FAILED = "batch_id = $1 AND state = 'failed'"
FAILED_IDS = f"SELECT id FROM {every_job(_FAILED)} AS s ORDER BY id LIMIT $2"
CREATE = """
INSERT INTO job_batch (batch_id, state, created_at, name, on_complete, on_success, meta,
    declared_total)
VALUES ($1, 'open', $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7)
ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id
"""
CANCEL = """
INSERT INTO job_batch (batch_id, state, created_at, cancelled_at, cancel_reason)
VALUES ($1, 'cancelled', $2, $2, $3)
ON CONFLICT (batch_id) DO UPDATE
SET state = 'cancelled', cancelled_at = $2, cancel_reason = $3
WHERE job_batch.state NOT IN ('cancelled', 'finished')
RETURNING number
"""
ACTIVE = """
SELECT id FROM background_job
WHERE batch_id = $1 AND state IN ('queued', 'started', 'executed') ORDER BY id
"""
_JSON_TEXT = {"on_complete", "on_success", "meta", "callback_ids"}
RECORD = "SELECT {} FROM job_batch WHERE batch_id = $1".format(
    ", ".join(f"{c}::text" if c in _JSON_TEXT else c for c in BATCH_RECORD_COLUMNS.split(", "))
)


async def create(conn: Conn, batch: NewBatch, now: int) -> None:
    """Record a new open batch; InvalidStateError if the id is taken."""
    created = await conn.fetchval(
        CREATE, batch.id, now, batch.name, callback_to_json(batch.on_complete),
        callback_to_json(batch.on_success), json.dumps(batch.meta) if batch.meta else None,
        batch.declared_total,
    )  # fmt: skip
    if created is None:
        raise InvalidStateError(f"batch '{batch.id}' exists already")


async def join(
    conn: Conn, added: Mapping[str, tuple[int, int]], now: int, *, admit: bool
) -> list[FinishedBatch]:
    """Count jobs joining batches (`added`: batch → (jobs, of which cancelled)); with
    `admit`, record unknown batches as open and refuse a cancelled, closed or finished batch
    or one whose declared total would be passed (inside the enqueue's transaction)."""
    ordered = sorted(added)
    if admit:
        await conn.execute(OPEN, ordered, now)
    for batch_id, state, total, joined in await conn.fetch(LOCK, ordered):
        if admit:
            check_admits(batch_id, BatchState(state), total, joined + added[batch_id][0])
    rows = await conn.fetch(
        JOINED, ordered, [added[b][0] for b in ordered], [added[b][1] for b in ordered]
    )
    ready: list[BatchCounts] = []
    for row in rows:
        counts = _counts(row)
        if closes_at_total(counts.state, counts.joined, row[6]):
            counts = _counts(await conn.fetchrow(CLOSE, now, counts.batch_id))
        ready.append(counts)
    return await _finish_ready(conn, ready, now)


async def ended(
    conn: Conn, deltas: Mapping[str, Counter[JobState]], now: int
) -> list[FinishedBatch]:
    """Count jobs of batches that reached a terminal state; the batches that finished."""
    ordered = sorted(deltas)
    await conn.fetch("SELECT 1 FROM job_batch WHERE batch_id = ANY($1::text[]) "
                     "ORDER BY batch_id FOR UPDATE", ordered)  # fmt: skip
    rows = await conn.fetch(
        ENDED, ordered, [deltas[b][JobState.COMPLETED] for b in ordered],
        [deltas[b][JobState.FAILED] for b in ordered],
        [deltas[b][JobState.CANCELLED] for b in ordered],
    )  # fmt: skip
    return await _finish_ready(conn, [_counts(r) for r in rows], now)


async def close(conn: Conn, batch_id: str, now: int) -> list[FinishedBatch]:
    """Close an open batch; finish it at once if every job already ended."""
    row = await conn.fetchrow(CLOSE, now, batch_id)
    return [] if row is None else await _finish_ready(conn, [_counts(row)], now)


def _counts(row: Any) -> BatchCounts:
    return BatchCounts(
        batch_id=row[0], state=BatchState(row[1]), joined=row[2], completed=row[3],
        failed=row[4], cancelled=row[5],
    )  # fmt: skip


async def _finish_ready(conn: Conn, batches: list[BatchCounts], now: int) -> list[FinishedBatch]:
    finished: list[FinishedBatch] = []
    for counts in batches:
        if not finishes(counts):
            continue
        row = await conn.fetchrow(FINISH, now, counts.batch_id)
        if row is None:
            continue
        number, name, meta, on_complete, on_success = row
        failed = await conn.fetch(FAILED_IDS, counts.batch_id, FAILED_IDS_LIMIT)
        batch = FinishedBatch(
            counts=counts, number=number, name=name, meta=json.loads(meta) if meta else {},
            on_complete=callback_from_json(on_complete),
            on_success=callback_from_json(on_success), failed_ids=[r[0] for r in failed],
            finished_at=now,
        )  # fmt: skip
        finished.append(batch)
    return finished


async def cancel_batch(
    conn: Conn, batch_id: str, reason: str, now: int
) -> tuple[list[int], int | None]:
    """Mark the batch cancelled (recording it if new); its unfinished jobs' ids, and its
    number if this call cancelled it (its dependents are then settled by the caller)."""
    number = await conn.fetchval(CANCEL, batch_id, now, reason)
    return [row[0] for row in await conn.fetch(ACTIVE, batch_id)], number


async def record(conn: Conn, batch_id: str) -> Any:
    """The batch's row (`rows.BATCH_RECORD_COLUMNS`), or None."""
    return await conn.fetchrow(RECORD, batch_id)


async def after_requeue(conn: Conn, batch_id: str, previous: JobState) -> None:
    """A requeued job of the batch is no longer ended (a finished batch stays finished)."""
    column = {JobState.FAILED: "failed", JobState.CANCELLED: "cancelled"}[previous]
    await conn.execute(
        f"UPDATE job_batch SET {column} = greatest(0, {column} - 1) WHERE batch_id = $1",
        batch_id,
    )


async def record_callbacks(conn: Conn, jobs: list[NewJob], ids: list[int]) -> None:
    """Note on each finished batch the ids of the callback jobs it enqueued."""
    by_batch: dict[str, list[int]] = {}
    for job, job_id in zip(jobs, ids, strict=True):
        for key in ("batch_complete_for", "batch_success_for"):
            if key in job.meta:
                by_batch.setdefault(job.meta[key], []).append(job_id)
    for batch_id, found in by_batch.items():
        await conn.execute(
            "UPDATE job_batch SET callback_ids = $1::jsonb WHERE batch_id = $2",
            json.dumps(found),
            batch_id,
        )
