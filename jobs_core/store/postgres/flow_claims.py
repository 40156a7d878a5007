"""Claims on PostgreSQL with flow control decided inside the claim.

One statement picks and starts a batch, as on SQLite: the queues with ready jobs (a loose
index scan), each queue's allowance (paused: 0; else its free concurrency and rate, at most
the batch), its first jobs by priority then due time (for each command the engine runs, one
range of the ready index, `LATERAL ... LIMIT allowance FOR UPDATE SKIP LOCKED`, merged),
keyed jobs beyond their key's free slots parked, then the rest, the queues taking turns.

Limits need exact counts across engines, and a statement's snapshot is taken before it could
take a lock. So while any queue has a limit or any ready job has a concurrency key ("flow
mode"), a claim runs as a transaction whose first statement takes one advisory lock per
store, and whose claim statement, with a fresh snapshot, sees every earlier claim. Without
limits or keys, the statement runs alone without the lock, as fast as before; it claims
nothing and says so when it finds flow mode needed, and the store runs it again locked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from jobs_core.errors import JobsError
from jobs_core.flow import MAX_ROUNDS, next_cap, per_queue_cap
from jobs_core.records import Job

from .claim_sql import (
    CLAIM_LOCK_KEY,
    FLOW,
    READY,
    WINDOW_STARTS,
    claim_default,
    claim_plain,
    claimed,
    next_due_sql,
)  # fmt: skip
from .connection import Conn
from .rows import PLAIN_FIELDS, RARE, plain_claimed_job, row_to_job
from .schema import JOB_FIELDS

CLAIM_DEFAULT = claim_default(JOB_FIELDS)
CLAIM_PLAIN = claim_plain(PLAIN_FIELDS, RARE)
CLAIM_PLAIN_NO_DUE = claim_plain(PLAIN_FIELDS, RARE, due=False)
"""The default claim without the lock: claims nothing while flow control is in use."""

_B_FIELDS = ", ".join("b." + f for f in JOB_FIELDS)
_C_FIELDS = ", ".join("c." + f for f in JOB_FIELDS)
CLAIM_IDS = f"""
WITH claimed AS (
    UPDATE background_job AS b
    SET state = 'started', owner = $1, attempts = b.attempts + 1, started_date = $2,
        last_activity_date = $2, cancel_requested = false
    WHERE b.id = ANY(ARRAY(
        SELECT id FROM background_job
        WHERE id = ANY($3::bigint[]) AND worker = '' AND command = ANY($4::text[])
          AND {READY} AND concurrency_key IS NULL AND run_after <= $2
          AND (expires_at IS NULL OR expires_at > $2)
        FOR UPDATE SKIP LOCKED))
    RETURNING {_B_FIELDS}
)
SELECT {_C_FIELDS},
    (SELECT count(*) FROM background_job WHERE id = ANY($3::bigint[]) AND state = 'queued')
    - (SELECT count(*) FROM claimed)
FROM (SELECT 1) AS one LEFT JOIN claimed c ON true
ORDER BY c.priority DESC, c.run_after, c.id
"""
"""Start the jobs `$3` that the plain claim would start, found by id: used only while no
flow rule is in use and nothing else can be ready (`default_idle.py`), so the plain claim's
walk of the queues, its flags and its due probe (their plan nodes set up at every call) are
left out. A job another engine took, or that changed meanwhile, is not started. One row at
least; its last column: how many of `$3` were queued in the statement's snapshot and not
started (the claimed rows are still queued there: the UPDATE's effects are not visible to
the rest of the statement)."""

CLAIM_LOCKED = "SELECT * FROM claim_locked($1, $2, $3, $4, true, $5, $6, $7)"
"""`CLAIM_DEFAULT` under the store's claim lock, in one statement (claim_sql.py)."""

CLAIM_NAMED = f"""
WITH RECURSIVE {FLOW}, named(worker) AS (
    (SELECT worker FROM background_job WHERE worker > '' AND {READY} ORDER BY worker LIMIT 1)
    UNION ALL
    SELECT (SELECT b.worker FROM background_job b
            WHERE b.state = 'queued' AND b.waiting_on IS NULL AND NOT b.key_parked
              AND b.worker > named.worker ORDER BY b.worker LIMIT 1)
    FROM named WHERE named.worker IS NOT NULL
), free AS (
    SELECT worker FROM named
    WHERE worker IS NOT NULL AND (SELECT ok FROM go)
      AND NOT EXISTS (SELECT 1 FROM background_job r
                      WHERE r.worker = named.worker AND r.state = 'started')
      AND NOT EXISTS (SELECT 1 FROM job_queue c WHERE c.name = named.worker AND (c.paused OR (
          c.rate_limit IS NOT NULL
          AND c.rate_limit <= {WINDOW_STARTS.format(queue="named.worker")})))
    LIMIT $4
), locked AS (
    SELECT worker FROM free WHERE pg_try_advisory_xact_lock($6::integer, hashtext(worker))
), first AS (
    SELECT (SELECT x.id FROM unnest($3::text[]) AS cmd(name) CROSS JOIN LATERAL (
                SELECT q.id, q.priority, q.run_after FROM background_job q
                WHERE q.worker = locked.worker AND q.queue = locked.worker
                  AND q.command = cmd.name AND q.state = 'queued' AND q.waiting_on IS NULL
                  AND NOT q.key_parked AND q.run_after <= $2
                  AND (q.expires_at IS NULL OR q.expires_at > $2)
                ORDER BY q.priority DESC, q.run_after, q.id LIMIT 1 FOR UPDATE) AS x
            ORDER BY x.priority DESC, x.run_after, x.id LIMIT 1) AS id
    FROM locked
), chosen AS (
    SELECT j.id FROM first f JOIN background_job j ON j.id = f.id
    WHERE j.concurrency_key IS NULL OR j.concurrency_limit > (
        SELECT count(*) FROM background_job r
        WHERE r.concurrency_key = j.concurrency_key AND r.state = 'started')
), parked AS (
    SELECT id FROM chosen WHERE false
), {claimed(JOB_FIELDS, "1")}"""
"""Named workers: the first due job of each idle worker whose queue is neither paused nor
out of rate; a first job held by its key holds the worker (one at a time, in order). Two
engines without flow mode may look at one worker at once: the advisory lock lets one through
per transaction, and ux_job_one_started_per_worker refuses the rare claim whose snapshot
predates a rival's commit (the claim is then run again). `$6` the advisory lock class."""

UNPARK = """
UPDATE background_job SET key_parked = false
WHERE id = ANY(ARRAY(
    SELECT p.id FROM (SELECT DISTINCT k FROM unnest($1::text[]) AS k) AS f
    CROSS JOIN LATERAL (
        SELECT id FROM background_job
        WHERE concurrency_key = f.k AND key_parked AND state = 'queued'
        ORDER BY priority DESC, run_after, id LIMIT $2) AS p))
"""
"""The first parked jobs of each key whose running job finished go back to the ready index
(a claim parks them again if the key is still at its limit)."""

UNPARK_ORPHANS = """
UPDATE background_job SET key_parked = false
WHERE id = ANY(ARRAY(
    SELECT p.id FROM background_job p
    WHERE p.key_parked AND p.state = 'queued'
      AND NOT EXISTS (SELECT 1 FROM background_job r
                      WHERE r.concurrency_key = p.concurrency_key AND r.state = 'started')
    LIMIT $1))
"""
"""Parked jobs whose key runs nothing. A finish lets its key's parked jobs back without the
claim lock, so a claim that parked a job on a snapshot still showing that finishing job
running can leave it parked; the engines' periodic sweep lets such jobs back."""


class ClaimRaced(JobsError):
    """A rival's named claim committed after this claim's snapshot: claim again."""


@dataclass(frozen=True, slots=True)
class ClaimRound:
    """What one claim statement did."""

    jobs: list[Job]
    needed: bool
    """Flow control is in use (a statement without the lock then claimed nothing)."""
    parked: int
    queues: int
    """Queues with ready jobs (sizes the next claim's per-queue share)."""
    named_ready: bool = True
    """A named worker's job was ready (queued, not waiting, not parked; due or not) in the
    statement's snapshot: False only from the plain claim, which looks."""
    due: int | None = None
    """Set only by a plain claim that came back short (it claimed every due job of its
    commands): the earliest later `run_after` of a ready job, `claim_sql.NEVER_DUE` if none."""


async def claim(
    conn: Conn, *, owner: str, commands: list[str], named: bool, limit: int, per_queue: int,
    now: int, locked: bool, lock_class: int, lock: bool = False, finished: list[int],
    due: bool = True,
) -> ClaimRound:  # fmt: skip
    """One claim statement; `lock`: a default claim that takes the store's claim lock itself
    (`claim_locked`); `finished`: the owner's jobs that ended, outcomes not yet committed
    (not running, see `claim_sql.NOT_MINE`); `due`: a plain claim that comes back short says
    when the next ready job falls due (`ClaimRound.due`). Raises ClaimRaced when
    ux_job_one_started_per_worker refused a named claim."""
    try:
        if named:
            rows = await conn.fetch(CLAIM_NAMED, owner, now, commands, limit, locked, lock_class)
        elif lock:
            rows = await conn.fetch(
                CLAIM_LOCKED, owner, now, commands, limit, per_queue, lock_class, finished
            )
        elif not locked:
            plain = CLAIM_PLAIN if due else CLAIM_PLAIN_NO_DUE
            rows = await conn.fetch(plain, owner, now, commands, limit, per_queue)
            known = ("", owner, now, now)  # rows.PLAIN_KNOWN
            jobs = [plain_claimed_job(row, known) for row in rows if row[0] is not None]
            return _round(rows, 5, bool(rows[0][-2]), rows[0][-1], jobs)
        else:
            rows = await conn.fetch(
                CLAIM_DEFAULT, owner, now, commands, limit, locked, per_queue, finished
            )
    except asyncpg.UniqueViolationError:
        raise ClaimRaced("a rival claimed this named worker's job first") from None
    return _round(rows, 3)


def _round(
    rows: list[asyncpg.Record], flags: int, named_ready: bool = True, due: int | None = None,
    jobs: list[Job] | None = None,
) -> ClaimRound:  # fmt: skip
    """A claim statement's rows: each claimed job's row and the flags (`flags` columns, the
    first three needed, parked, queues); one row of flags alone when it claimed nothing.
    `jobs`: the claimed jobs, already made from the rows."""
    if jobs is None:
        jobs = [row_to_job(row[:-flags]) for row in rows if row[0] is not None]
    first = rows[0]
    needed, parked, queues = first[-flags], first[1 - flags], first[2 - flags]
    return ClaimRound(jobs, bool(needed), int(parked), int(queues), named_ready, due)


async def claim_ids(
    conn: Conn, *, owner: str, commands: list[str], ids: list[int], now: int
) -> tuple[list[Job], int]:
    """`CLAIM_IDS`: the jobs started, in the plain claim's order, and how many of `ids` are
    still queued but were not started (0: the rest were taken or ended)."""
    rows = await conn.fetch(CLAIM_IDS, owner, now, ids, commands)
    return [row_to_job(row[:-1]) for row in rows if row[0] is not None], int(rows[0][-1])


Statement = Callable[[int, int], Awaitable[ClaimRound]]
"""Runs one claim statement for (jobs still wanted, per-queue share)."""


async def claim_rounds(run: Statement, limit: int, queues: int) -> tuple[list[Job], ClaimRound]:
    """Claim statements while the batch has room (`flow.next_cap`); the jobs and the last
    round (a statement without the lock that found flow mode needed ends at once)."""
    jobs: list[Job] = []
    cap = per_queue_cap(limit, queues)
    last = ClaimRound([], False, 0, queues)
    for _ in range(MAX_ROUNDS):
        last = await run(limit - len(jobs), cap)
        jobs += last.jobs
        most = max(Counter(j.queue for j in last.jobs).values(), default=0)
        cap = next_cap(cap, limit, len(jobs), most, last.parked)
        if not cap:
            break
    return jobs, last


async def lock_claims(conn: Conn, lock_class: int) -> None:
    """Take the store's claim lock for the caller's transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock($1::integer, $2)", lock_class, CLAIM_LOCK_KEY)


async def unpark(conn: Conn, keys: list[str]) -> None:
    """Let parked jobs of `keys` (one entry per finished job with that key) be claimed again."""
    if keys:
        n = max(keys.count(k) for k in set(keys))
        await conn.execute(UNPARK, keys, n)


NEXT_DUE = next_due_sql("$1")
"""Earliest future `run_after` of a ready job (`claim_sql.next_due_sql`)."""

RATE_WINDOW_ENDS = f"""
SELECT min((SELECT min(s.started_at) FROM queue_start s
            WHERE s.queue = c.name AND s.started_at > $1 - c.rate_per_ms) + c.rate_per_ms)
FROM job_queue c
WHERE c.rate_limit IS NOT NULL AND NOT c.paused
  AND c.rate_limit <= (SELECT coalesce(sum(s.n), 0) FROM queue_start s
                       WHERE s.queue = c.name AND s.started_at > $1 - c.rate_per_ms)
  AND EXISTS (SELECT 1 FROM background_job
              WHERE worker IN ('', c.name) AND queue = c.name AND {READY})
"""
"""When the first full rate window that holds back ready jobs lets one more start."""


NEXT_DUE_OR_WINDOW_END = f"SELECT ({NEXT_DUE}), ({RATE_WINDOW_ENDS})"
"""Both in one statement: an engine asks after each claim that found nothing (a round trip
and a statement's start and end fewer, ~40 µs of the server's CPU and as much of the
engine's)."""


async def next_due(conn: Conn, now: int) -> int | None:
    """The earliest time after `now` when a job may become claimable by time alone: a
    `run_after`, or the end of a full rate window holding back a queue's ready jobs."""
    times = await conn.fetchrow(NEXT_DUE_OR_WINDOW_END, now)
    assert times is not None  # a SELECT without FROM has one row
    found = [int(t) for t in times if t is not None]
    return max(now + 1, min(found)) if found else None
