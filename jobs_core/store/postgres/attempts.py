"""Attempt history on PostgreSQL: rows for attempts that did not end their job, and
requeues; moved to `archived_attempt`'s month partition once their job is archived."""

from __future__ import annotations

from typing import Any

from jobs_core.history import AttemptRow
from jobs_core.records import AttemptOutcome, JobState
from jobs_core.store.protocol import Transition

from .connection import Conn
from .rows import error_from_json, error_to_json
from .schema import ATTEMPT_FIELDS

ATTEMPT_SELECT = ", ".join("error::text" if f == "error" else f for f in ATTEMPT_FIELDS)

RECORD = """
INSERT INTO job_attempt (job_id, seq, number, outcome, engine, started_date, ended_date,
    duration_ms, error, progress, status, log_end)
SELECT b.id, coalesce((SELECT max(a.seq) FROM job_attempt a WHERE a.job_id = b.id), 0) + 1,
    b.attempts + u.refund, u.outcome, u.engine, b.started_date, $6, u.duration, b.error,
    b.progress, b.status, log_end(b.logs)
FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::bigint[])
    AS u(id, outcome, refund, engine, duration)
JOIN background_job b ON b.id = u.id
"""
"""Read after the transitions applied: the job's row holds this attempt's error, progress,
status and logs (appended)."""

INSERT = f"""
INSERT INTO job_attempt ({", ".join(ATTEMPT_FIELDS)})
SELECT * FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::text[], $5::text[],
    $6::bigint[], $7::bigint[], $8::bigint[], $9::jsonb[], $10::float8[], $11::text[],
    $12::bigint[])
ON CONFLICT (job_id, seq) DO NOTHING
"""

LIVE_ROWS = f"SELECT {ATTEMPT_SELECT} FROM job_attempt WHERE job_id = $1 ORDER BY seq"
ARCHIVED_ROWS = f"""
SELECT {ATTEMPT_SELECT} FROM archived_attempt
WHERE job_id = $1 AND completed_date >= $2 AND completed_date < $3 ORDER BY seq
"""
TAKE_ARCHIVED = f"""
DELETE FROM archived_attempt
WHERE job_id = $1 AND completed_date >= $2 AND completed_date < $3
RETURNING {ATTEMPT_SELECT}
"""
NEXT_SEQ = "SELECT coalesce(max(seq), 0) + 1 FROM job_attempt WHERE job_id = $1"

MOVE_ARCHIVED = f"""
WITH gone AS (
    DELETE FROM job_attempt WHERE job_id = ANY(ARRAY(
        SELECT DISTINCT a.job_id FROM job_attempt a
        WHERE NOT EXISTS (SELECT 1 FROM background_job b WHERE b.id = a.job_id)
        LIMIT $1))
    RETURNING *
)
INSERT INTO archived_attempt ({", ".join(ATTEMPT_FIELDS)}, completed_date)
SELECT {", ".join("g." + f for f in ATTEMPT_FIELDS)}, s.completed_date
FROM gone g JOIN job_summary s ON s.id = g.job_id WHERE s.completed_date IS NOT NULL
RETURNING job_id
"""
"""Move the attempt rows of jobs that left the live table into the partition of the month
their job finished in (the archive pass; a row whose job has no finish time is dropped)."""


async def record(conn: Conn, applied: list[Transition], now: int) -> None:
    """Keep a row for each applied attempt that did not end its job (the common case writes
    nothing)."""
    kept = [t for t in applied if t.outcome is not None and t.state is JobState.QUEUED]
    if kept:
        await conn.execute(
            RECORD, [t.job_id for t in kept], [t.outcome.value for t in kept if t.outcome],
            [int(t.refund_attempt) for t in kept], [t.owner_guard for t in kept],
            [t.duration_ms for t in kept], now,
        )  # fmt: skip


def row_to_attempt(row: Any) -> AttemptRow:
    values = dict(zip(ATTEMPT_FIELDS, row, strict=True))
    values["outcome"] = AttemptOutcome(values["outcome"])
    values["error"] = error_from_json(values["error"])
    return AttemptRow(**values)


async def live_rows(conn: Conn, job_id: int) -> list[AttemptRow]:
    return [row_to_attempt(r) for r in await conn.fetch(LIVE_ROWS, job_id)]


async def archived_rows(conn: Conn, job_id: int, start: int, end: int) -> list[AttemptRow]:
    return [row_to_attempt(r) for r in await conn.fetch(ARCHIVED_ROWS, job_id, start, end)]


async def take_archived(conn: Conn, job_id: int, start: int, end: int) -> list[AttemptRow]:
    """Remove a requeued job's archived rows (they go back to `job_attempt`)."""
    return [row_to_attempt(r) for r in await conn.fetch(TAKE_ARCHIVED, job_id, start, end)]


async def insert(conn: Conn, rows: list[AttemptRow]) -> None:
    columns: list[list[Any]] = [[] for _ in ATTEMPT_FIELDS]
    for row in rows:
        for column, name in zip(columns, ATTEMPT_FIELDS, strict=True):
            value = getattr(row, name)
            if name == "error":
                value = error_to_json(value)
            elif name == "outcome":
                value = value.value
            column.append(value)
    await conn.execute(INSERT, *columns)


async def next_seq(conn: Conn, job_id: int) -> int:
    return int(await conn.fetchval(NEXT_SEQ, job_id))


async def move_archived(conn: Conn, limit: int) -> int:
    """One archive-pass step; how many rows moved."""
    return len(await conn.fetch(MOVE_ARCHIVED, limit))
