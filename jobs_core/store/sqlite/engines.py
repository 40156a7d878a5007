"""Engine leases on SQLite: registration, heartbeats, and recovery of jobs of dead engines."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from jobs_core.records import EngineInfo, RunningJob
from jobs_core.store.protocol import EngineRegistration, Transition
from jobs_core.store.rows import ENGINE_COLUMNS, engine_info, lost_transition

REGISTER = """
INSERT OR REPLACE INTO engine (id, host, pid, started_at, heartbeat_at, lease_expires_at,
    workers, commands, concurrency)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

HEARTBEAT = """
UPDATE engine SET heartbeat_at = ?, lease_expires_at = ?, running = ?, processed = ?, failed = ?
WHERE id = ?
"""

LOST_JOBS = """
SELECT b.id, b.owner, b.attempts, b.retry_limit, b.cancel_requested
FROM background_job b INDEXED BY ix_job_state
LEFT JOIN engine e ON e.id = b.owner
WHERE b.state <> 'queued' AND b.state = 'started'
  AND (e.id IS NULL OR e.stopped_at IS NOT NULL OR e.lease_expires_at < :now
       OR e.id IN (SELECT value FROM json_each(:dead)))
"""

MARK_LOST = """
UPDATE engine SET stopped_at = :now, lease_expires_at = min(lease_expires_at, :now), running = 0,
    lost_reason = 'its process ' || pid || ' on ' || host || ' is gone'
WHERE id IN (SELECT value FROM json_each(:dead)) AND stopped_at IS NULL
"""


def register(conn: sqlite3.Connection, e: EngineRegistration, now: int, lease_ms: int) -> None:
    conn.execute(
        REGISTER,
        (e.id, e.host, e.pid, now, now, now + lease_ms, json.dumps(e.workers),
         json.dumps(e.commands), e.concurrency),
    )  # fmt: skip


def heartbeat(conn: sqlite3.Connection, params: tuple[Any, ...]) -> None:
    conn.execute(HEARTBEAT, params)


def stop(conn: sqlite3.Connection, engine_id: str, now: int) -> None:
    conn.execute(
        "UPDATE engine SET stopped_at = ?, lease_expires_at = ?, running = 0 WHERE id = ?",
        (now, now, engine_id),
    )


def lost_transitions(conn: sqlite3.Connection, now: int, dead: list[str]) -> list[Transition]:
    """Transitions for started jobs whose owner stopped, died or let its lease lapse."""
    rows = conn.execute(LOST_JOBS, {"now": now, "dead": json.dumps(dead)}).fetchall()
    return [lost_transition(now, *row) for row in rows]


def mark_lost(conn: sqlite3.Connection, now: int, dead: list[str]) -> None:
    """Record engines known dead (their process gone) as such, for readers on any host."""
    if dead:
        conn.execute(MARK_LOST, {"now": now, "dead": json.dumps(dead)})


def engines(conn: sqlite3.Connection, now: int) -> list[EngineInfo]:
    rows = conn.execute(
        f"SELECT {ENGINE_COLUMNS} FROM engine ORDER BY started_at DESC LIMIT 200"
    ).fetchall()
    return [engine_info(r, now) for r in rows]


def running_jobs(conn: sqlite3.Connection) -> list[RunningJob]:
    rows = conn.execute(
        "SELECT id, command, worker, owner, started_date, progress, status "
        "FROM background_job INDEXED BY ix_job_state WHERE state <> 'queued' "
        "AND state = 'started' ORDER BY id"
    ).fetchall()
    return [
        RunningJob(
            id=r[0], command=r[1], worker=r[2], owner=r[3], started_date=r[4], progress=r[5],
            status=r[6],
        )
        for r in rows
    ]  # fmt: skip


def cancel_requested(conn: sqlite3.Connection, owner: str) -> list[tuple[int, str]]:
    """(job id, reason) of running jobs of `owner` that some process asked to cancel."""
    rows = conn.execute(
        "SELECT id, coalesce(json_extract(error, '$.message'), 'cancelled') "
        "FROM background_job INDEXED BY ix_job_state "
        "WHERE state <> 'queued' AND state = 'started' AND owner = ? AND cancel_requested = 1",
        (owner,),
    )
    return [(row[0], row[1]) for row in rows]
