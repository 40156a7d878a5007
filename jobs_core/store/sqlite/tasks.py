"""Scheduled tasks on SQLite: the SQL that stores them and enqueues their runs exactly once."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from jobs_core.records import JobState
from jobs_core.store.protocol import NewJob
from jobs_core.store.task_protocol import StoredTask, TaskDefinition, TaskScan

from .queue import insert_jobs

DEFINITION_FIELDS = [
    "name", "schedule", "command", "request_type", "request_body", "options",
    "missed_policy", "max_catch_up", "overlap", "start_at", "end_at", "max_runs",
]  # fmt: skip
STATE_FIELDS = [
    "paused", "created_at", "updated_at", "next_run_at", "last_run_at", "last_job_id",
    "run_now_requested", "revision", "run_count", "ended_at",
]  # fmt: skip
TASK_SELECT = ", ".join(f"t.{f}" for f in DEFINITION_FIELDS + STATE_FIELDS)

SELECT_WITH_STATE = f"""
SELECT {TASK_SELECT}, coalesce(
    (SELECT b.state FROM background_job b WHERE b.id = t.last_job_id),
    (SELECT s.state FROM job_summary s WHERE s.id = t.last_job_id)) FROM scheduled_task t
"""
"""Tasks with their last job's state (live, or else archived)."""

INSERT_TASK = """
INSERT INTO scheduled_task (name, schedule, command, request_type, request_body, options,
    missed_policy, max_catch_up, overlap, start_at, end_at, max_runs, created_at, updated_at,
    next_run_at)
VALUES (:name, :schedule, :command, :request_type, :request_body, :options,
    :missed_policy, :max_catch_up, :overlap, :start_at, :end_at, :max_runs, :now, :now,
    :next_run_at)
"""

# Paused, last_run_at and last_job_id are the operator's and the scheduler's: never reset here.
UPDATE_DEFINITION = """
UPDATE scheduled_task
SET schedule = :schedule, command = :command, request_type = :request_type,
    request_body = :request_body, options = :options, missed_policy = :missed_policy,
    max_catch_up = :max_catch_up, overlap = :overlap, start_at = :start_at, end_at = :end_at,
    max_runs = :max_runs, updated_at = :now, next_run_at = :next_run_at, ended_at = NULL,
    revision = revision + 1
WHERE name = :name
"""

SCAN_DUE = f"""
{SELECT_WITH_STATE}
WHERE t.run_now_requested = 1
   OR (t.paused = 0 AND t.ended_at IS NULL AND (t.next_run_at IS NULL OR t.next_run_at <= :now))
ORDER BY t.next_run_at, t.name
"""

SCAN_NEXT = """
SELECT min(next_run_at) FROM scheduled_task
WHERE paused = 0 AND ended_at IS NULL AND next_run_at > :now
"""

# The compare-and-set that makes each slot run once: a losing engine's update matches no row.
CLAIM_SLOTS = """
UPDATE scheduled_task
SET next_run_at = :next_run_at,
    last_run_at = CASE WHEN :ran THEN :now ELSE last_run_at END,
    run_count = run_count + :runs,
    ended_at = CASE WHEN :ended THEN :now END
WHERE name = :name AND paused = 0 AND next_run_at IS :expected AND revision = :revision
"""

CLAIM_RUN_NOW = """
UPDATE scheduled_task SET run_now_requested = 0, last_run_at = :now
WHERE name = :name AND run_now_requested = 1 AND revision = :revision
"""

SET_LAST_JOB = "UPDATE scheduled_task SET last_job_id = ? WHERE name = ?"


def row_to_task(row: tuple[Any, ...]) -> StoredTask:
    """A `StoredTask` from a row of `TASK_SELECT` followed by the last job's state."""
    n = len(DEFINITION_FIELDS)
    values = dict(zip(DEFINITION_FIELDS, row[:n], strict=True))
    values["options"] = json.loads(values["options"]) if values["options"] else {}
    state = dict(zip(STATE_FIELDS, row[n : n + len(STATE_FIELDS)], strict=True))
    state["paused"] = bool(state["paused"])
    state["run_now_requested"] = bool(state["run_now_requested"])
    last_state = row[-1]
    return StoredTask(
        definition=TaskDefinition(**values),
        last_job_state=JobState(last_state) if last_state is not None else None,
        **state,
    )


def get(conn: sqlite3.Connection, name: str) -> StoredTask | None:
    row = conn.execute(f"{SELECT_WITH_STATE} WHERE t.name = ?", (name,)).fetchone()
    return row_to_task(row) if row is not None else None


def list_all(conn: sqlite3.Connection) -> list[StoredTask]:
    return [row_to_task(r) for r in conn.execute(f"{SELECT_WITH_STATE} ORDER BY t.name")]


def save(
    conn: sqlite3.Connection, task: TaskDefinition, now: int, next_run_at: int | None, new: bool
) -> None:
    """Insert a new task or update the definition of an existing one."""
    params = {
        "name": task.name, "schedule": task.schedule, "command": task.command,
        "request_type": task.request_type, "request_body": task.request_body,
        "options": json.dumps(task.options, separators=(",", ":"), sort_keys=True),
        "missed_policy": task.missed_policy, "max_catch_up": task.max_catch_up,
        "overlap": task.overlap, "start_at": task.start_at, "end_at": task.end_at,
        "max_runs": task.max_runs, "now": now, "next_run_at": next_run_at,
    }  # fmt: skip
    conn.execute(INSERT_TASK if new else UPDATE_DEFINITION, params)


def delete(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("DELETE FROM scheduled_task WHERE name = ?", (name,)).rowcount == 1


def pause(conn: sqlite3.Connection, name: str, now: int) -> bool:
    cursor = conn.execute(
        "UPDATE scheduled_task SET paused = 1, updated_at = ? WHERE name = ?", (now, name)
    )
    return cursor.rowcount == 1


def resume(conn: sqlite3.Connection, name: str, now: int, next_run_at: int | None) -> None:
    conn.execute(
        "UPDATE scheduled_task SET paused = 0, updated_at = ?, next_run_at = ? WHERE name = ?",
        (now, next_run_at, name),
    )


def request_run(conn: sqlite3.Connection, name: str) -> bool:
    cursor = conn.execute("UPDATE scheduled_task SET run_now_requested = 1 WHERE name = ?", (name,))
    return cursor.rowcount == 1


def scan(conn: sqlite3.Connection, now: int) -> TaskScan:
    due = [row_to_task(r) for r in conn.execute(SCAN_DUE, {"now": now})]
    following = conn.execute(SCAN_NEXT, {"now": now}).fetchone()[0]
    return TaskScan(due=due, next_run_at=following)


def fire(
    conn: sqlite3.Connection, task: StoredTask, next_run_at: int | None, jobs: list[NewJob],
    now: int, ended: bool = False,
) -> list[int] | None:  # fmt: skip
    """Move the task to its next slot and enqueue `jobs`, or nothing if the row changed."""
    claimed = conn.execute(
        CLAIM_SLOTS,
        {
            "next_run_at": next_run_at, "ran": bool(jobs), "now": now, "name": task.name,
            "expected": task.next_run_at, "revision": task.revision, "runs": len(jobs),
            "ended": ended,
        },
    ).rowcount  # fmt: skip
    if claimed != 1:
        return None
    if not jobs:
        return []
    ids = insert_jobs(conn, jobs, now)
    conn.execute(SET_LAST_JOB, (ids[-1], task.name))
    return ids


def fire_now(conn: sqlite3.Connection, task: StoredTask, job: NewJob, now: int) -> int | None:
    """Clear the run-now request and enqueue `job`, or nothing if it was already taken."""
    params = {"now": now, "name": task.name, "revision": task.revision}
    if conn.execute(CLAIM_RUN_NOW, params).rowcount != 1:
        return None
    job_id = insert_jobs(conn, [job], now)[0]
    conn.execute(SET_LAST_JOB, (job_id, task.name))
    return job_id
