"""Flow-control SQL on SQLite outside the claim: queue settings, queue figures, the facts
behind a job's wait, and the expiry sweep."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from typing import Any

from jobs_core.flow import QueueLoad, WaitFacts
from jobs_core.flow_records import QueueInfo, QueueSettings, rate_limit_of
from jobs_core.records import JobError, JobState
from jobs_core.store.protocol import QueueChange, Transition

from . import queue
from .rows import JOB_SELECT, row_to_job

SETTINGS = "SELECT name, concurrency, paused, rate_limit, rate_per_ms, updated_at FROM job_queue"

SET_QUEUE = """
INSERT INTO job_queue (name, concurrency, paused, rate_limit, rate_per_ms, updated_at)
VALUES (:name, :concurrency, coalesce(:paused, 0), :rate_limit, :rate_per_ms, :now)
ON CONFLICT (name) DO UPDATE SET
    concurrency = CASE WHEN :clear_concurrency THEN NULL
                       ELSE coalesce(:concurrency, concurrency) END,
    paused = coalesce(:paused, paused),
    rate_limit = CASE WHEN :clear_rate THEN NULL ELSE coalesce(:rate_limit, rate_limit) END,
    rate_per_ms = CASE WHEN :clear_rate THEN NULL ELSE coalesce(:rate_per_ms, rate_per_ms) END,
    updated_at = :now
"""

READY_BY_QUEUE = """
SELECT worker, queue, count(*) FROM background_job INDEXED BY ix_job_ready
WHERE state = 'queued' AND waiting_on IS NULL AND key_parked = 0 GROUP BY worker, queue
"""

HELD_BY_QUEUE = """
SELECT worker, queue, count(*) FROM background_job INDEXED BY ix_job_waiting
WHERE waiting_on IS NOT NULL AND state = 'queued' GROUP BY worker, queue
UNION ALL
SELECT worker, queue, count(*) FROM background_job INDEXED BY ix_job_key_parked
WHERE key_parked = 1 AND state = 'queued' GROUP BY worker, queue
"""

RUNNING_BY_QUEUE = """
SELECT worker, queue, count(*) FROM background_job INDEXED BY ix_job_running
WHERE state = 'started' GROUP BY worker, queue
"""

FINISHED_BY_QUEUE = """
SELECT queue, state, sum(n) FROM queue_minute WHERE minute >= ? GROUP BY queue, state
"""

WINDOW = """
SELECT coalesce(sum(n), 0), min(started_at) FROM queue_start
WHERE queue = ? AND started_at > ?
"""

EXPIRED = """
SELECT id FROM background_job INDEXED BY ix_job_expires
WHERE state = 'queued' AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY id LIMIT ?
"""

PRUNE_STARTS = """
DELETE FROM queue_start
WHERE started_at <= :now - coalesce(
    (SELECT c.rate_per_ms FROM job_queue c WHERE c.name = queue_start.queue), 0)
"""
"""Starts that left their queue's window (all of them, once a queue has no rate limit)."""

FINISHED_WINDOW_MS = 15 * 60_000


def set_queue(conn: sqlite3.Connection, name: str, change: QueueChange, now: int) -> None:
    paused = None if change.paused is None else int(change.paused)
    conn.execute(
        SET_QUEUE,
        {
            "name": name, "now": now, "clear_concurrency": change.clear_concurrency,
            "concurrency": change.concurrency, "paused": paused,
            "clear_rate": change.clear_rate_limit, "rate_limit": change.rate_limit,
            "rate_per_ms": change.rate_per_ms,
        },
    )  # fmt: skip


def settings(conn: sqlite3.Connection) -> list[QueueSettings]:
    """Every queue an operator set, by name."""
    return [_settings(row) for row in conn.execute(SETTINGS + " ORDER BY name")]


def _settings(row: tuple[Any, ...]) -> QueueSettings:
    name, concurrency, paused, rate_limit, rate_per_ms, updated_at = row
    return QueueSettings(
        name=name, concurrency=concurrency, paused=bool(paused),
        rate_limit=rate_limit_of(rate_limit, rate_per_ms), updated_at=updated_at,
    )  # fmt: skip


def queues(conn: sqlite3.Connection, now: int) -> list[QueueInfo]:
    """Every queue with live jobs, settings, or finishes in the last 15 minutes."""
    known = {s.name: s for s in settings(conn)}
    queued: Counter[str] = Counter()
    running: Counter[str] = Counter()
    workers: set[str] = set()
    for sql, counter in ((READY_BY_QUEUE, queued), (HELD_BY_QUEUE, queued),
                         (RUNNING_BY_QUEUE, running)):  # fmt: skip
        for worker, name, n in conn.execute(sql):
            counter[name] += n
            if worker:
                workers.add(name)
    finished: dict[tuple[str, str], int] = {
        (name, state): n
        for name, state, n in conn.execute(FINISHED_BY_QUEUE, (now - FINISHED_WINDOW_MS,))
    }
    names = sorted({*known, *queued, *running, *(name for name, _ in finished)})
    return [
        _info(conn, known.get(name) or QueueSettings(name=name), queued[name], running[name],
              name in workers, finished, now)
        for name in names
    ]  # fmt: skip


def _info(
    conn: sqlite3.Connection, s: QueueSettings, queued: int, running: int, worker: bool,
    finished: dict[tuple[str, str], int], now: int,
) -> QueueInfo:  # fmt: skip
    starts, _ = _window(conn, s, now)
    return QueueInfo(
        name=s.name, concurrency=1 if worker else s.concurrency, paused=s.paused,
        rate_limit=s.rate_limit, running=running, queued=queued,
        recent_starts=starts if s.rate_limit is not None else None,
        finished_15m=finished.get((s.name, "completed"), 0),
        failed_15m=finished.get((s.name, "failed"), 0) + finished.get((s.name, "cancelled"), 0),
        worker=worker,
    )  # fmt: skip


def _window(conn: sqlite3.Connection, s: QueueSettings, now: int) -> tuple[int, int | None]:
    """Starts within the queue's rate window now, and when the oldest of them leaves it."""
    if s.rate_limit is None:
        return 0, None
    per = s.rate_limit.per_ms
    starts, oldest = conn.execute(WINDOW, (s.name, now - per)).fetchone()
    return int(starts), (oldest + per if oldest is not None else None)


def wait_facts(conn: sqlite3.Connection, job_ids: list[int], now: int) -> list[WaitFacts]:
    """What might hold each live job of `job_ids`."""
    rows = conn.execute(
        f"SELECT {JOB_SELECT}, waiting_on FROM background_job "
        "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
        (json.dumps(job_ids),),
    ).fetchall()
    known = {s.name: s for s in settings(conn)}
    loads: dict[str, QueueLoad] = {}
    facts: list[WaitFacts] = []
    for row in rows:
        job = row_to_job(row[:-1])
        if job.queue not in loads:
            s = known.get(job.queue) or QueueSettings(name=job.queue)
            starts, frees_at = _window(conn, s, now)
            loads[job.queue] = QueueLoad(
                settings=s, running=_count(conn, "queue", job.queue),
                window_starts=starts, window_frees_at=frees_at,
            )  # fmt: skip
        key = job.concurrency_key
        facts.append(
            WaitFacts(
                job=job,
                queue=loads[job.queue],
                waiting_on=row[-1],
                key_running=_count(conn, "key", key) if key is not None else 0,
                worker_busy=bool(job.worker) and loads[job.queue].running > 0,
            )
        )
    return facts


RUNNING_IN = {
    "queue": "SELECT count(*) FROM background_job INDEXED BY ix_job_running "
    "WHERE queue = ? AND state = 'started'",
    "key": "SELECT count(*) FROM background_job INDEXED BY ix_job_key_running "
    "WHERE concurrency_key = ? AND state = 'started'",
}


def _count(conn: sqlite3.Connection, what: str, value: str) -> int:
    """Started jobs of a queue (`what="queue"`) or with a concurrency key (`"key"`)."""
    return int(conn.execute(RUNNING_IN[what], (value,)).fetchone()[0])


def expired_ids(conn: sqlite3.Connection, now: int, limit: int) -> list[int]:
    return [row[0] for row in conn.execute(EXPIRED, (now, limit))]


def expire(conn: sqlite3.Connection, now: int, limit: int, max_log: int) -> list[int]:
    """Cancel up to `limit` queued jobs past their expiry (dependents too); their ids."""
    transitions = [
        Transition(
            job_id=job_id, state=JobState.CANCELLED, owner_guard=None,
            error=JobError(code="Expired", message="expired before it started"),
            logs="[expired] not started before its expiry\n",
        )
        for job_id in expired_ids(conn, now, limit)
    ]  # fmt: skip
    if not transitions:
        return []
    return queue.finish(conn, transitions, [], now, max_log).applied


def prune_starts(conn: sqlite3.Connection, now: int) -> None:
    conn.execute(PRUNE_STARTS, {"now": now})


def has_old_starts(conn: sqlite3.Connection, now: int) -> bool:
    """Whether some start left its window (cheap: reads one row of a small table)."""
    row = conn.execute(
        "SELECT 1 FROM queue_start s WHERE s.started_at <= ? - coalesce("
        "(SELECT c.rate_per_ms FROM job_queue c WHERE c.name = s.queue), 0) LIMIT 1",
        (now,),
    ).fetchone()
    return row is not None
