"""Claims on SQLite with flow control decided inside the claim transaction.

`BEGIN IMMEDIATE` serialises claims across every process, so the counts one claim reads
(jobs running per queue and per key, starts within a rate window) are exact, and limits
hold store-wide. A first statement finds the (queue, command) pairs with ready jobs (a
loose index scan) and what holds their queues; when nothing can (no queue has a limit, no
ready job a key, one pair) one statement starts the batch, else the flow-controlled rounds
of `flow_claim` decide which jobs start, one statement a round.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass
from typing import Any

from jobs_core.records import Job
from jobs_core.store.protocol import ClaimedJobs

from .flow_claim import PAIRS, READY, READY_LEVELS, ROOM, claim_rounds
from .rows import JOB_SELECT, ONE_SELECT, one_claimed_jobs, plain_claimed_jobs, row_to_job

PRECHECK = f"""
WITH RECURSIVE {PAIRS}
SELECT (SELECT count(*) FROM job_queue
        WHERE paused OR concurrency IS NOT NULL OR rate_limit IS NOT NULL),
    EXISTS (SELECT 1 FROM job_queue WHERE rate_limit IS NOT NULL),
    EXISTS (SELECT 1 FROM background_job INDEXED BY ix_job_key_ready
            WHERE state = 'queued' AND concurrency_key IS NOT NULL AND waiting_on IS NULL
              AND key_parked = 0),
    q, c, {ROOM}
FROM pairs
"""
"""What a default claim must decide, one row per (queue, command) pair with ready jobs:
queues with limits, whether one is a rate (starts are then logged), ready keyed jobs, the
pair (the caller keeps those of its commands: in Python, 9.5 µs a check against 18.4
with `json_each` in SQL), and its queue's room (`flow_claim.ROOM`)."""

CLAIM_ONE = f"""
UPDATE background_job
SET state = 'started', owner = :owner, attempts = attempts + 1, started_date = :now,
    last_activity_date = :now, cancel_requested = 0
WHERE id IN (
    SELECT id FROM background_job INDEXED BY ix_job_ready
    WHERE worker = '' AND queue = :queue AND command = :command AND {READY}
      AND run_after <= :now AND (expires_at IS NULL OR expires_at > :now)
    ORDER BY priority DESC, run_after, id LIMIT :limit)
RETURNING {ONE_SELECT}
"""
"""The claim without flow control: of the commands this engine runs, one has ready jobs, in
one queue; no queue has a limit and no ready job has a key (the common case, as fast as
before flow control: one range of the ready index). It returns a plain job's columns only,
less those the claimer knows (`rows.ONE_SELECT`; `rows.one_claimed_jobs` reads the full
rows of the others)."""

CLAIM_NAMED = f"""
WITH RECURSIVE named(worker) AS (
    SELECT (SELECT worker FROM background_job INDEXED BY ix_job_ready
            WHERE worker > '' AND {READY} ORDER BY worker LIMIT 1)
    UNION ALL
    SELECT (SELECT worker FROM background_job INDEXED BY ix_job_ready
            WHERE worker > named.worker AND {READY} ORDER BY worker LIMIT 1)
    FROM named WHERE named.worker IS NOT NULL
)
UPDATE background_job
SET state = 'started', owner = :owner, attempts = attempts + 1, started_date = :now,
    last_activity_date = :now, cancel_requested = 0
WHERE id IN (
    SELECT f.id FROM (
        SELECT (SELECT j.id FROM json_each(:commands) AS c JOIN background_job AS j
                ON j.id = (SELECT q.id FROM background_job q INDEXED BY ix_job_ready
                           WHERE q.worker = w.worker AND q.queue = w.worker
                             AND q.command = c.value AND q.state = 'queued'
                             AND q.waiting_on IS NULL AND q.key_parked = 0
                             AND q.run_after <= :now
                             AND (q.expires_at IS NULL OR q.expires_at > :now)
                           ORDER BY q.priority DESC, q.run_after, q.id LIMIT 1)
                ORDER BY j.priority DESC, j.run_after, j.id LIMIT 1) AS id
        FROM named AS w
        WHERE w.worker IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM background_job r INDEXED BY ix_job_running
                          WHERE r.queue = w.worker AND r.state = 'started')
          AND NOT EXISTS (
            SELECT 1 FROM job_queue c WHERE c.name = w.worker AND (c.paused OR (
                c.rate_limit IS NOT NULL AND c.rate_limit <= (
                    SELECT coalesce(sum(s.n), 0) FROM queue_start s
                    WHERE s.queue = w.worker AND s.started_at > :now - c.rate_per_ms))))
    ) AS f
    JOIN background_job j ON j.id = f.id
    WHERE j.concurrency_key IS NULL OR j.concurrency_limit > (
        SELECT count(*) FROM background_job r INDEXED BY ix_job_key_running
        WHERE r.concurrency_key = j.concurrency_key AND r.state = 'started')
    LIMIT :limit)
RETURNING {JOB_SELECT}, 0
"""
"""Named workers: the first due job of each idle worker whose queue is not paused nor out
of rate; a first job held by its key holds the worker (one at a time, in order). The
workers with ready jobs are found by a loose index scan (one probe each: a DISTINCT would
read every ready entry of every worker)."""

ANY_READY = f"""
SELECT 1 FROM background_job INDEXED BY ix_job_ready WHERE worker = '' AND {READY} LIMIT 1
"""
ANY_NAMED_READY = f"""
SELECT 1 FROM background_job INDEXED BY ix_job_ready WHERE worker > '' AND {READY} LIMIT 1
"""
"""Whether any job of the default worker (of a named worker) is ready: one probe of the
index, read outside a write transaction (see `may_claim`)."""


RECORD_STARTS = """
INSERT INTO queue_start (queue, started_at, n)
SELECT c.name, :now, j.value FROM json_each(:counts) AS j JOIN job_queue c ON c.name = j.key
WHERE c.rate_limit IS NOT NULL
"""
"""Starts of rate-limited queues, one row per queue and claim, for their sliding window."""


@dataclass(frozen=True, slots=True)
class PlainClaim:
    """A plain claim's rows (`CLAIM_ONE`), every one a plain job's: its jobs are made once
    the transaction has committed (`made`), so the Python that builds and sorts them
    (~1.2 µs a job) does not hold the write lock another process waits for."""

    rows: list[tuple[Any, ...]]
    known: tuple[Any, ...]
    """The values of `rows.CLAIM_KNOWN`."""


def claim(
    conn: sqlite3.Connection, *, owner: str, commands: list[str], named: bool, limit: int,
    now: int,
) -> ClaimedJobs | PlainClaim:  # fmt: skip
    """Claim inside the caller's transaction for an engine running `commands` (`exhausted`:
    see `ClaimedJobs`; a flow-controlled claim does not say); `made` gives the jobs."""
    params = {"owner": owner, "now": now, "commands": json.dumps(commands), "limit": limit}
    exhausted = False
    if named:
        jobs, rated = _started(conn.execute(CLAIM_NAMED, params).fetchall()), True
    else:
        runs = set(commands)
        found = [row for row in conn.execute(PRECHECK, params).fetchall() if row[4] in runs]
        if not found:
            return ClaimedJobs(exhausted=True)
        limited, rated, keyed, queue, command, _ = found[0]
        if not limited and not keyed and len(found) == 1:
            one = {**params, "queue": queue, "command": command}
            known = (command, "", queue, owner, now, now)  # `rows.CLAIM_KNOWN`
            rows = conn.execute(CLAIM_ONE, one).fetchall()
            if not any(row[-1] for row in rows):  # (a job with more columns: read them now)
                return PlainClaim(rows, known)
            jobs = one_claimed_jobs(conn, rows, known)
            # One pair, no limit, no key: fewer than `limit` means no other job was ready.
            exhausted = True
        else:
            pairs = [(row[3], row[4]) for row in found]
            room = {row[3]: row[5] for row in found}
            jobs = claim_rounds(conn, params, pairs, room, limit)
    if jobs:
        jobs.sort(key=_order)
        if rated:
            counts = Counter(j.queue for j in jobs)
            conn.execute(RECORD_STARTS, {"now": now, "counts": json.dumps(counts)})
    return ClaimedJobs(jobs, exhausted=exhausted)


def made(claimed: ClaimedJobs | PlainClaim) -> ClaimedJobs:
    """The jobs of a claim (`claim`), made now if its transaction left them to make."""
    if isinstance(claimed, ClaimedJobs):
        return claimed
    jobs = plain_claimed_jobs(claimed.rows, claimed.known)
    jobs.sort(key=_order)
    # One pair, no limit, no key: fewer than `limit` means no other job was ready.
    return ClaimedJobs(jobs, exhausted=True)


def _order(job: Job) -> tuple[int, int, int]:
    return (-job.priority, job.run_after, job.id)


def may_claim(conn: sqlite3.Connection, *, named: bool) -> bool:
    """Whether a claim may find something: a job of the default worker (`named`: of a
    named worker) in the ready index. An engine that keeps up with a producer in another
    process claims after each of its commits and each finished batch, and most of those
    claims find nothing: an empty write transaction each (BEGIN IMMEDIATE, the claim's
    first statement, COMMIT), and a write lock the producer waits for. A job enqueued after
    this read changes `data_version`, and the engine then looks again."""
    return conn.execute(ANY_NAMED_READY if named else ANY_READY).fetchone() is not None


def _started(rows: list[tuple[Any, ...]]) -> list[Job]:
    return [row_to_job(row[:-1]) for row in rows if not row[-1]]


UNPARK = """
UPDATE background_job SET key_parked = 0
WHERE id IN (
    SELECT p.id FROM (SELECT DISTINCT value AS k FROM json_each(:keys)) AS f
    JOIN background_job p ON p.id IN (
        SELECT id FROM background_job INDEXED BY ix_job_key_parked
        WHERE concurrency_key = f.k AND key_parked = 1 AND state = 'queued'
        ORDER BY priority DESC, run_after, id LIMIT :n))
"""
"""The first parked jobs of each key whose running job finished go back to the ready
index (a claim parks them again if the key is still at its limit). `:n` is one limit for
all keys (SQLite takes no per-row LIMIT): the most jobs of one key that finished."""


ANY_PARKED = """
SELECT 1 FROM background_job INDEXED BY ix_job_key_parked
WHERE key_parked = 1 AND state = 'queued' LIMIT 1
"""
"""Whether any job is parked: mostly none, and one probe of the index then costs 2 µs
against 16 for `UNPARK`'s probe of each key (a finish of 100 jobs, 20 with a key)."""


def unpark(conn: sqlite3.Connection, keys: list[str]) -> None:
    """Let parked jobs of `keys` (one entry per finished job with that key) be claimed
    again: as many of each key's first parked jobs as jobs of it finished."""
    if keys and conn.execute(ANY_PARKED).fetchone() is not None:
        n = max(Counter(keys).values())
        conn.execute(UNPARK, {"keys": json.dumps(keys), "n": n})


NEXT_DUE = f"""
WITH RECURSIVE {READY_LEVELS}
SELECT min((SELECT min(run_after) FROM background_job INDEXED BY ix_job_ready
            WHERE {READY} AND worker = levels.w AND queue = levels.q AND command = levels.c
              AND priority = levels.p AND run_after > :now))
FROM levels WHERE p IS NOT NULL
"""
"""Earliest future `run_after` of a ready job: one index probe per worker, queue, command
and priority level (the ready index orders by priority before due time). The next group is
found by seeks on equal prefixes: a row-value `>` seeks on the first column only and would
walk every entry of the same worker."""

RATE_WINDOW_ENDS = f"""
SELECT min((SELECT min(s.started_at) FROM queue_start s
            WHERE s.queue = c.name AND s.started_at > :now - c.rate_per_ms) + c.rate_per_ms)
FROM job_queue c
WHERE c.rate_limit IS NOT NULL AND NOT c.paused
  AND c.rate_limit <= (SELECT coalesce(sum(s.n), 0) FROM queue_start s
                       WHERE s.queue = c.name AND s.started_at > :now - c.rate_per_ms)
  AND (EXISTS (SELECT 1 FROM background_job INDEXED BY ix_job_ready
               WHERE worker = '' AND queue = c.name AND {READY})
       OR EXISTS (SELECT 1 FROM background_job INDEXED BY ix_job_ready
                  WHERE worker = c.name AND queue = c.name AND {READY}))
"""
"""When the first full rate window that holds back ready jobs lets one more start."""


def next_due(conn: sqlite3.Connection, now: int) -> int | None:
    """The earliest time after `now` when a job may become claimable by time alone: a
    `run_after`, or the end of a full rate window holding back a queue's ready jobs."""
    times = [
        row[0]
        for sql in (NEXT_DUE, RATE_WINDOW_ENDS)
        if (row := conn.execute(sql, {"now": now}).fetchone()) is not None and row[0] is not None
    ]
    return max(now + 1, int(min(times))) if times else None
