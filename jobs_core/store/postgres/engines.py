"""Engine leases on PostgreSQL: registration, heartbeats, and the jobs of dead engines."""

from __future__ import annotations

import json

from jobs_core.records import EngineInfo, RunningJob
from jobs_core.store.protocol import EngineRegistration, Transition
from jobs_core.store.rows import ENGINE_COLUMNS, engine_info, lost_transition

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

MARK_LOST = """
UPDATE engine SET stopped_at = $1, lease_expires_at = least(lease_expires_at, $1), running = 0,
    lost_reason = 'its process ' || pid || ' on ' || host || ' is gone'
WHERE id = ANY($2::text[]) AND stopped_at IS NULL
RETURNING pg_notify($3, 'engine')
"""

ENGINES = f"""
SELECT {ENGINE_COLUMNS.replace("workers", "workers::text").replace("commands", "commands::text")}
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


async def mark_lost(conn: Conn, now: int, dead: list[str], channel: str) -> None:
    """Record engines known dead (their process gone) as such, for readers on any host."""
    if dead:
        await conn.fetch(MARK_LOST, now, dead, channel)


async def engines(conn: Conn, now: int) -> list[EngineInfo]:
    return [engine_info(r, now) for r in await conn.fetch(ENGINES)]


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
