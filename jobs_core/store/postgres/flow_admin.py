"""Flow-control SQL on PostgreSQL outside the claim: queue settings, queue figures, the
facts behind a job's wait, the expiry sweep, and the next time a job may become due."""

from __future__ import annotations

from collections import Counter
from typing import Any

from jobs_core.flow import QueueLoad, WaitFacts
from jobs_core.flow_records import QueueInfo, QueueSettings, rate_limit_of
from jobs_core.records import JobError, JobState
from jobs_core.store.protocol import QueueChange, Transition

from . import finish
from .connection import Conn
from .flow_claims import UNPARK_ORPHANS
from .rows import JOB_SELECT, row_to_job

SETTINGS = """
SELECT name, concurrency, paused, rate_limit, rate_per_ms, updated_at FROM job_queue
ORDER BY name
"""

SET_QUEUE = """
INSERT INTO job_queue AS q (name, concurrency, paused, rate_limit, rate_per_ms, updated_at)
VALUES ($1, $2, coalesce($3, false), $4, $5, $6)
ON CONFLICT (name) DO UPDATE SET
    concurrency = CASE WHEN $7 THEN NULL ELSE coalesce($2, q.concurrency) END,
    paused = coalesce($3, q.paused),
    rate_limit = CASE WHEN $8 THEN NULL ELSE coalesce($4, q.rate_limit) END,
    rate_per_ms = CASE WHEN $8 THEN NULL ELSE coalesce($5, q.rate_per_ms) END,
    updated_at = $6
RETURNING name, concurrency, paused, rate_limit, rate_per_ms, updated_at, pg_notify($9, 'queue')
"""

QUEUED_BY_QUEUE = """
SELECT worker, queue, count(*) FROM background_job WHERE state = 'queued'
GROUP BY worker, queue
"""

RUNNING_BY_QUEUE = """
SELECT worker, queue, count(*) FROM background_job WHERE state = 'started'
GROUP BY worker, queue
"""

FINISHED_BY_QUEUE = """
SELECT queue, state, sum(n)::bigint FROM queue_minute WHERE minute >= $1 GROUP BY queue, state
"""

WINDOW = """
SELECT coalesce(sum(n), 0)::bigint, min(started_at) FROM queue_start
WHERE queue = $1 AND started_at > $2
"""

RUNNING_IN_QUEUE = "SELECT count(*) FROM background_job WHERE queue = $1 AND state = 'started'"
RUNNING_WITH_KEY = """
SELECT count(*) FROM background_job WHERE concurrency_key = $1 AND state = 'started'
"""

EXPIRED = """
SELECT id FROM background_job
WHERE state = 'queued' AND expires_at IS NOT NULL AND expires_at <= $1
ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
"""

PRUNE_STARTS = """
DELETE FROM queue_start s
WHERE s.started_at <= $1 - coalesce(
    (SELECT c.rate_per_ms FROM job_queue c WHERE c.name = s.queue), 0)
"""

FINISHED_WINDOW_MS = 15 * 60_000


async def set_queue(
    conn: Conn, name: str, change: QueueChange, now: int, channel: str
) -> QueueSettings:
    row = await conn.fetchrow(
        SET_QUEUE, name, change.concurrency, change.paused, change.rate_limit,
        change.rate_per_ms, now, change.clear_concurrency, change.clear_rate_limit, channel,
    )  # fmt: skip
    assert row is not None  # an upsert returns its row
    return _settings(row)


async def settings(conn: Conn) -> list[QueueSettings]:
    """Every queue an operator set, by name."""
    return [_settings(row) for row in await conn.fetch(SETTINGS)]


def _settings(row: Any) -> QueueSettings:
    return QueueSettings(
        name=row[0], concurrency=row[1], paused=row[2],
        rate_limit=rate_limit_of(row[3], row[4]), updated_at=row[5],
    )  # fmt: skip


async def queues(conn: Conn, now: int) -> list[QueueInfo]:
    """Every queue with live jobs, settings, or finishes in the last 15 minutes."""
    known = {s.name: s for s in await settings(conn)}
    queued: Counter[str] = Counter()
    running: Counter[str] = Counter()
    workers: set[str] = set()
    for sql, counter in ((QUEUED_BY_QUEUE, queued), (RUNNING_BY_QUEUE, running)):
        for worker, name, n in await conn.fetch(sql):
            counter[name] += n
            if worker:
                workers.add(name)
    finished = {
        (r[0], r[1]): r[2] for r in await conn.fetch(FINISHED_BY_QUEUE, now - FINISHED_WINDOW_MS)
    }
    infos: list[QueueInfo] = []
    for name in sorted({*known, *queued, *running, *(q for q, _ in finished)}):
        s = known.get(name) or QueueSettings(name=name)
        starts, _ = await _window(conn, s, now)
        worker = name in workers
        infos.append(
            QueueInfo(
                name=name, concurrency=1 if worker else s.concurrency, paused=s.paused,
                rate_limit=s.rate_limit, running=running[name], queued=queued[name],
                recent_starts=starts if s.rate_limit is not None else None,
                finished_15m=finished.get((name, "completed"), 0),
                failed_15m=finished.get((name, "failed"), 0)
                + finished.get((name, "cancelled"), 0),
                worker=worker,
            )
        )  # fmt: skip
    return infos


async def _window(conn: Conn, s: QueueSettings, now: int) -> tuple[int, int | None]:
    """Starts within the queue's rate window now, and when the oldest of them leaves it."""
    if s.rate_limit is None:
        return 0, None
    per = s.rate_limit.per_ms
    row = await conn.fetchrow(WINDOW, s.name, now - per)
    assert row is not None  # an aggregate has one row
    return int(row[0]), (row[1] + per if row[1] is not None else None)


async def wait_facts(conn: Conn, job_ids: list[int], now: int) -> list[WaitFacts]:
    """What might hold each live job of `job_ids`."""
    rows = await conn.fetch(
        f"SELECT {JOB_SELECT}, waiting_on FROM background_job WHERE id = ANY($1::bigint[]) "
        "ORDER BY id",
        job_ids,
    )
    known = {s.name: s for s in await settings(conn)}
    loads: dict[str, QueueLoad] = {}
    facts: list[WaitFacts] = []
    for row in rows:
        job = row_to_job(list(row)[:-1])
        if job.queue not in loads:
            s = known.get(job.queue) or QueueSettings(name=job.queue)
            starts, frees_at = await _window(conn, s, now)
            running = int(await conn.fetchval(RUNNING_IN_QUEUE, job.queue))
            loads[job.queue] = QueueLoad(
                settings=s, running=running, window_starts=starts, window_frees_at=frees_at
            )
        key = job.concurrency_key
        key_running = int(await conn.fetchval(RUNNING_WITH_KEY, key)) if key is not None else 0
        facts.append(
            WaitFacts(
                job=job,
                queue=loads[job.queue],
                waiting_on=row[-1],
                key_running=key_running,
                worker_busy=bool(job.worker) and loads[job.queue].running > 0,
            )
        )
    return facts


async def expire(
    conn: Conn, now: int, limit: int, max_log: int, channel: str, orphans: int
) -> list[int]:
    """Cancel up to `limit` queued jobs past their expiry (dependents too), prune rate
    windows, let parked jobs of keys that run nothing back; the expired ids."""
    await conn.execute(PRUNE_STARTS, now)
    await conn.execute(UNPARK_ORPHANS, orphans)
    ids = [row[0] for row in await conn.fetch(EXPIRED, now, limit)]
    if not ids:
        return []
    error = JobError(code="Expired", message="expired before it started")
    transitions = [
        Transition(job_id=job_id, state=JobState.CANCELLED, owner_guard=None, error=error,
                   logs="[expired] not started before its expiry\n")
        for job_id in ids
    ]  # fmt: skip
    return (await finish.finish(conn, transitions, [], now, max_log, channel)).applied
