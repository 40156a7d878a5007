"""Attempt history on PostgreSQL: rows for attempts that did not end their job, and
requeues; moved to `archived_attempt`'s month partition once their job is archived."""

from __future__ import annotations

from typing import Any

from jobs_core.history import AttemptRow
from jobs_core.records import AttemptOutcome

from .connection import Conn
from .rows import error_from_json, error_to_json
from .schema import ATTEMPT_FIELDS

ATTEMPT_SELECT = ", ".join("error::text" if f == "error" else f for f in ATTEMPT_FIELDS)

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
FROM gone g CROSS JOIN LATERAL (
    SELECT completed_date FROM completed_job WHERE id = g.job_id
    UNION ALL SELECT completed_date FROM failed_job WHERE id = g.job_id
    LIMIT 1) AS s
RETURNING job_id
"""
"""Move the attempt rows of jobs that left the live table into the partition of the month
their job finished in (the archive pass; a row whose job has no finish time is dropped)."""


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
