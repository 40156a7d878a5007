"""Scheduled tasks on PostgreSQL: the SQL that stores them and enqueues their runs exactly once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import asyncpg

from jobs_core.records import JobState
from jobs_core.store.protocol import NewJob
from jobs_core.store.task_protocol import StoredTask, TaskDefinition, TaskScan

from .connection import Conn
from .queue import insert_jobs

DEFINITION_FIELDS = [f.name for f in fields(TaskDefinition)]
STATE_FIELDS = [
    f.name for f in fields(StoredTask) if f.name not in ("definition", "last_job_state")
]
"""`scheduled_task` columns: the definition's, then the scheduler's, in record order."""
TASK_SELECT = ", ".join(
    f"t.{f}::text" if f == "options" else f"t.{f}" for f in DEFINITION_FIELDS + STATE_FIELDS
)

SELECT_WITH_STATE = f"""
SELECT {TASK_SELECT}, (
    SELECT state FROM background_job WHERE id = t.last_job_id
    UNION ALL SELECT state FROM completed_job WHERE id = t.last_job_id
    UNION ALL SELECT state FROM failed_job WHERE id = t.last_job_id
    LIMIT 1)
FROM scheduled_task t
"""

# Registration reads the row and writes it in one transaction; the lock keeps two processes
# registering the same new name from both inserting it.
LOCK_NAME = "SELECT pg_advisory_xact_lock(hashtext('jobs task ' || $1))"

INSERT_TASK = """
INSERT INTO scheduled_task (name, schedule, command, request_type, request_body, options,
    missed_policy, max_catch_up, created_at, updated_at, next_run_at, overlap, start_at,
    end_at, max_runs)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $9, $10, $12, $13, $14, $15)
RETURNING pg_notify($11, 'task')
"""

# Paused, last_run_at and last_job_id are the operator's and the scheduler's: never reset here.
UPDATE_DEFINITION = """
UPDATE scheduled_task
SET schedule = $2, command = $3, request_type = $4, request_body = $5, options = $6::jsonb,
    missed_policy = $7, max_catch_up = $8, updated_at = $9, next_run_at = $10,
    overlap = $12, start_at = $13, end_at = $14, max_runs = $15, ended_at = NULL,
    revision = revision + 1
WHERE name = $1
RETURNING pg_notify($11, 'task')
"""

DELETE = "DELETE FROM scheduled_task WHERE name = $1 RETURNING pg_notify($2, 'task')"
PAUSE = """
UPDATE scheduled_task SET paused = true, updated_at = $2 WHERE name = $1
RETURNING pg_notify($3, 'task')
"""
RESUME = """
UPDATE scheduled_task SET paused = false, updated_at = $2, next_run_at = $3 WHERE name = $1
RETURNING pg_notify($4, 'task')
"""
REQUEST_RUN = """
UPDATE scheduled_task SET run_now_requested = true WHERE name = $1
RETURNING pg_notify($2, 'task')
"""

SCAN_DUE = f"""
{SELECT_WITH_STATE}
WHERE t.run_now_requested
   OR (NOT t.paused AND t.ended_at IS NULL AND (t.next_run_at IS NULL OR t.next_run_at <= $1))
ORDER BY t.next_run_at, t.name
"""
SCAN_NEXT = """
SELECT min(next_run_at) FROM scheduled_task
WHERE NOT paused AND ended_at IS NULL AND next_run_at > $1
"""

# The compare-and-set that makes each slot run once: a losing engine's update matches no row
# (it waits for the winner's row lock, then sees the moved next_run_at).
CLAIM_SLOTS = """
UPDATE scheduled_task
SET next_run_at = $1, last_run_at = CASE WHEN $2 THEN $3 ELSE last_run_at END,
    run_count = run_count + $7, ended_at = CASE WHEN $8 THEN $3::bigint END
WHERE name = $4 AND NOT paused AND next_run_at IS NOT DISTINCT FROM $5 AND revision = $6
RETURNING name
"""
CLAIM_RUN_NOW = """
UPDATE scheduled_task SET run_now_requested = false, last_run_at = $1
WHERE name = $2 AND run_now_requested AND revision = $3
RETURNING name
"""
SET_LAST_JOB = "UPDATE scheduled_task SET last_job_id = $1 WHERE name = $2"


def row_to_task(row: Sequence[Any] | asyncpg.Record) -> StoredTask:
    """A `StoredTask` from a row of `TASK_SELECT` followed by the last job's state."""
    n = len(DEFINITION_FIELDS)
    values = dict(zip(DEFINITION_FIELDS, row[:n], strict=True))
    values["options"] = json.loads(values["options"]) if values["options"] else {}
    state = dict(zip(STATE_FIELDS, row[n : n + len(STATE_FIELDS)], strict=True))
    last_state = row[-1]
    return StoredTask(
        definition=TaskDefinition(**values),
        last_job_state=JobState(last_state) if last_state is not None else None,
        **state,
    )


async def get(conn: Conn, name: str) -> StoredTask | None:
    row = await conn.fetchrow(f"{SELECT_WITH_STATE} WHERE t.name = $1", name)
    return row_to_task(row) if row is not None else None


async def get_for_update(conn: Conn, name: str) -> StoredTask | None:
    """The task, its row locked until the transaction ends: a scheduler's compare-and-set
    waits for us, and we see its last write (registering must not move a slot back)."""
    row = await conn.fetchrow(f"{SELECT_WITH_STATE} WHERE t.name = $1 FOR UPDATE OF t", name)
    return row_to_task(row) if row is not None else None


async def list_all(conn: Conn) -> list[StoredTask]:
    return [row_to_task(r) for r in await conn.fetch(f"{SELECT_WITH_STATE} ORDER BY t.name")]


async def save(
    conn: Conn, task: TaskDefinition, now: int, next_run_at: int | None,
    new: bool, channel: str,
) -> None:  # fmt: skip
    """Insert a new task or update the definition of an existing one."""
    options = json.dumps(task.options, separators=(",", ":"), sort_keys=True)
    await conn.fetch(
        INSERT_TASK if new else UPDATE_DEFINITION, task.name, task.schedule, task.command,
        task.request_type, task.request_body, options, task.missed_policy, task.max_catch_up,
        now, next_run_at, channel, task.overlap, task.start_at, task.end_at, task.max_runs,
    )  # fmt: skip


async def scan(conn: Conn, now: int) -> TaskScan:
    due = [row_to_task(r) for r in await conn.fetch(SCAN_DUE, now)]
    following = await conn.fetchval(SCAN_NEXT, now)
    return TaskScan(due=due, next_run_at=following)


async def fire(
    conn: Conn, task: StoredTask, next_run_at: int | None, jobs: list[NewJob], now: int,
    channel: str, ended: bool = False,
) -> list[int] | None:  # fmt: skip
    """Move the task to its next slot and enqueue `jobs`, or nothing if the row changed."""
    claimed = await conn.fetchval(
        CLAIM_SLOTS, next_run_at, bool(jobs), now, task.name, task.next_run_at, task.revision,
        len(jobs), ended,
    )  # fmt: skip
    if claimed is None:
        return None
    if not jobs:
        return []
    ids = await insert_jobs(conn, jobs, now, channel)
    await conn.execute(SET_LAST_JOB, ids[-1], task.name)
    return ids


async def fire_now(conn: Conn, task: StoredTask, job: NewJob, now: int, channel: str) -> int | None:
    """Clear the run-now request and enqueue `job`, or nothing if it was already taken."""
    if await conn.fetchval(CLAIM_RUN_NOW, now, task.name, task.revision) is None:
        return None
    job_id = (await insert_jobs(conn, [job], now, channel))[0]
    await conn.execute(SET_LAST_JOB, job_id, task.name)
    return job_id
