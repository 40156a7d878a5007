"""Engine leases on PostgreSQL: registration, heartbeats, and the jobs of dead engines."""

from __future__ import annotations

import json

from jobs_core.records import EngineInfo, JobError, JobState, RunningJob
from jobs_core.store.protocol import EngineRegistration, Transition

from .connection import Conn

REGISTER = """
INSERT INTO engine (id, host, pid, started_at, heartbeat_at, lease_expires_at, workers, commands,
    concurrency)
VALUES ($1, $2, $3, $4, $4, $5, $6::jsonb, $7::jsonb, $8)
ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
    lease_expires_at = excluded.lease_expires_at, stopped_at = NULL, workers = excluded.workers,
    commands = excluded.commands, concurrency = excluded.concurrency
RETURNING pg_notify($9, 'engine')
"""

HEARTBEAT = """
UPDATE engine SET heartbeat_at = $1, lease_expires_at = $2, running = $3, processed = $4,
    failed = $5
WHERE id = $6
"""

STOP = """
UPDATE engine SET stopped_at = $2, lease_expires_at = $2, running = 0 WHERE id = $1
RETURNING pg_notify($3, 'engine')
"""

# FOR UPDATE SKIP LOCKED: engines recovering at once each take a disjoint share.
LOST_JOBS = """
SELECT b.id, b.owner, b.attempts, b.retry_limit, b.cancel_requested
FROM background_job b LEFT JOIN engine e ON e.id = b.owner
WHERE b.state = 'started'
  AND (e.id IS NULL OR e.stopped_at IS NOT NULL OR e.lease_expires_at < $1
       OR e.id = ANY($2::text[]))
FOR UPDATE OF b SKIP LOCKED
"""

ENGINES = """
SELECT id, host, pid, started_at, heartbeat_at, lease_expires_at, stopped_at, workers::text,
    commands::text, concurrency, running, processed, failed
FROM engine ORDER BY started_at DESC LIMIT 200
"""

RUNNING_JOBS = """
SELECT id, command, worker, owner, started_date, progress, status
FROM background_job WHERE state = 'started' ORDER BY id
"""

CANCEL_REQUESTED = """
SELECT id, coalesce(error ->> 'message', 'cancelled') FROM background_job
WHERE owner = $1 AND cancel_requested AND state = 'started'
"""


async def register(
    conn: Conn, e: EngineRegistration, now: int, lease_ms: int, channel: str
) -> None:
    await conn.fetch(
        REGISTER, e.id, e.host, e.pid, now, now + lease_ms, json.dumps(e.workers),
        json.dumps(e.commands), e.concurrency, channel,
    )  # fmt: skip


async def lost_transitions(conn: Conn, now: int, dead: list[str]) -> list[Transition]:
    """Transitions for started jobs whose owner stopped, died or let its lease lapse."""
    rows = await conn.fetch(LOST_JOBS, now, dead)
    return [lost_transition(now, *row) for row in rows]


def lost_transition(
    now: int, job_id: int, owner: str, attempts: int, retry_limit: int, cancel_requested: bool
) -> Transition:
    """What recovery does to one lost job: requeue it (attempt counted), fail or cancel it."""
    lost = f"attempt {attempts} was lost: its engine {owner} stopped without finishing it"
    if cancel_requested:
        state, error = JobState.CANCELLED, JobError(code="Cancelled", message=lost)
    elif attempts > retry_limit:
        state, error = JobState.FAILED, JobError(code="WorkerLost", message=lost)
    else:
        state, error = JobState.QUEUED, JobError(code="WorkerLost", message=lost)
    outcome = "requeued" if state is JobState.QUEUED else state.value
    return Transition(
        job_id=job_id, state=state, owner_guard=owner,
        run_after=now if state is JobState.QUEUED else None, error=error,
        logs=f"[recovery] {lost}; {outcome}\n",
    )  # fmt: skip


async def engines(conn: Conn, now: int) -> list[EngineInfo]:
    return [
        EngineInfo(
            id=r[0], host=r[1], pid=r[2], started_at=r[3], heartbeat_at=r[4],
            lease_expires_at=r[5], workers=json.loads(r[7]), commands=json.loads(r[8]),
            concurrency=r[9], running=r[10], processed=r[11], failed=r[12],
            alive=r[6] is None and r[5] >= now,
        )
        for r in await conn.fetch(ENGINES)
    ]  # fmt: skip


async def running_jobs(conn: Conn) -> list[RunningJob]:
    return [
        RunningJob(
            id=r[0], command=r[1], worker=r[2], owner=r[3], started_date=r[4], progress=r[5],
            status=r[6],
        )
        for r in await conn.fetch(RUNNING_JOBS)
    ]  # fmt: skip


async def cancel_requested(conn: Conn, owner: str) -> list[tuple[int, str]]:
    return [(row[0], row[1]) for row in await conn.fetch(CANCEL_REQUESTED, owner)]
