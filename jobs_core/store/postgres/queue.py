"""The engine's hot path on PostgreSQL: enqueue, claim, activity, next due time (outcomes
are in `finish.py`).

Every statement is set-based (arrays in, one statement per step), so a batch of jobs costs
the same number of round trips as one job.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from jobs_core.batch_rules import FinishedBatch
from jobs_core.dependency_rules import Start, parents_of, starts_of
from jobs_core.errors import DuplicateRefIdError
from jobs_core.records import DependencyPolicy, Job, JobError, JobState
from jobs_core.store.protocol import ActivityUpdate, NewJob

from . import batches
from .connection import Conn
from .logs import append_logs
from .rows import JOB_SELECT, columns, error_to_json, json_or_none, row_to_job

NEW_JOB_ARRAYS = (
    "command text", "request_type text", "request_body text", "worker text", "run_after bigint",
    "retry_limit integer", "timeout_secs float8", "state text", "parent_id bigint",
    "depends_on bigint", "ref_id text", "tag text", "callback text", "batch_id text",
    "created_by text", "user_id text", "reply_to text", "args text", "meta text",
    "completed_date bigint", "error text", "waiting_on bigint", "dependencies text",
    "depends_on_batch text", "depends_policy text",
)  # fmt: skip
_BASE = 7
"""The first columns are set for every job; an optional column no job of the batch sets is
passed as NULL rather than as an array of nulls (which still costs its encoding per
element): unnest pads it with nulls."""
_NAMES = [c.split()[0] for c in NEW_JOB_ARRAYS]
_UNSET = [JobState.QUEUED.value if name == "state" else None for name in _NAMES]
_UNNEST = ", ".join(f"${i + 1}::{c.split()[1]}[]" for i, c in enumerate(NEW_JOB_ARRAYS))
_JSON = ("args", "meta", "error", "dependencies")
_VALUES = ", ".join(
    "coalesce(u.state, 'queued')" if n == "state"
    else f"u.{n}::jsonb" if n in _JSON else f"u.{n}"
    for n in _NAMES
)  # fmt: skip
_N = len(NEW_JOB_ARRAYS)

INSERT_JOBS = f"""
WITH new AS (
    INSERT INTO background_job (id, created_date, {", ".join(_NAMES)})
    SELECT nextval('job_id_seq'), ${_N + 1}, {_VALUES}
    FROM unnest({_UNNEST}) WITH ORDINALITY AS u({", ".join(_NAMES)}, n)
    ORDER BY u.n
    RETURNING id, command, state, worker, parent_id, depends_on, ref_id, tag, batch_id,
        created_by, user_id, callback, request_type, created_date, completed_date, error
), summary AS (
    INSERT INTO job_summary (id, command, state, worker, parent_id, depends_on, ref_id, tag,
        batch_id, created_by, user_id, callback, request_type, created_date, completed_date,
        error_code, error_message)
    SELECT id, command, state, worker, parent_id, depends_on, ref_id, tag, batch_id, created_by,
        user_id, callback, request_type, created_date, completed_date, error ->> 'code',
        error ->> 'message'
    FROM new
), counted AS (
    UPDATE job_count SET n = job_count.n + c.n
    FROM (SELECT count(*) AS n FROM new WHERE state = 'cancelled') AS c
    WHERE job_count.state = 'cancelled' AND c.n > 0
)
SELECT array_agg(id ORDER BY id), pg_notify(${_N + 2}, 'enqueue') FROM new
"""


EDGES = """
INSERT INTO job_dependency (parent_id, child_id)
SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING
"""

BATCH_PARENTS = """
SELECT batch_id, number, state, failed + cancelled FROM job_batch
WHERE batch_id = ANY($1::text[]) ORDER BY batch_id FOR SHARE
"""

PARENT_STATES = """
SELECT id, state FROM job_summary WHERE id = ANY($1::bigint[]) ORDER BY id FOR SHARE
"""
# FOR SHARE: a parent finishing at the same time waits for this insert to commit, so its
# release (or cancel) of dependents, a later statement with a fresh snapshot, sees the child.

REF_IDS_TAKEN = "SELECT ref_id, id FROM job_summary WHERE ref_id = ANY($1::text[]) LIMIT 1"

# A claim writes only the live row: the summary of a running job takes its state, start and
# attempts from there (rows.LIVE_SUMMARY_SELECT) until the job's next change writes both.
# `= ANY(ARRAY(...))`: an index probe per claimed id; a join lets the planner, which cannot
# know the batch is small, hash the whole table (measured: 7 ms instead of 1 for 100 jobs).
CLAIMED = f"""
claimed AS (
    UPDATE background_job AS b
    SET state = 'started', owner = $1, attempts = b.attempts + 1, started_date = $2,
        last_activity_date = $2, cancel_requested = false
    WHERE b.id = ANY(ARRAY(SELECT id FROM picked WHERE id IS NOT NULL))
    RETURNING {", ".join("b." + f for f in JOB_SELECT.split(", "))}

)
SELECT {JOB_SELECT} FROM claimed ORDER BY run_after, id
"""

CLAIM_DEFAULT = f"""
WITH picked AS (
    SELECT id FROM background_job
    WHERE state = 'queued' AND waiting_on IS NULL AND worker = '' AND run_after <= $2
      AND command = ANY($3::text[])
    ORDER BY run_after, id LIMIT $4
    FOR UPDATE SKIP LOCKED
), {CLAIMED}"""

# Named workers: the first eligible job of each worker with no started job. Two engines may
# look at the same worker at once: the advisory lock lets one of them through per
# transaction, and the unique index ux_job_one_started_per_worker refuses the rare claim
# whose snapshot predates a rival's commit (the claim is then run again).
CLAIM_NAMED = f"""
WITH RECURSIVE named(worker) AS (
    (SELECT worker FROM background_job
     WHERE state = 'queued' AND waiting_on IS NULL AND worker > '' ORDER BY worker LIMIT 1)
    UNION ALL
    SELECT (SELECT b.worker FROM background_job b
            WHERE b.state = 'queued' AND b.waiting_on IS NULL AND b.worker > named.worker
            ORDER BY b.worker LIMIT 1)
    FROM named WHERE named.worker IS NOT NULL
), free AS (
    SELECT worker FROM named
    WHERE worker IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM background_job r
                      WHERE r.worker = named.worker AND r.state = 'started')
    LIMIT $4
), locked AS (
    SELECT worker FROM free WHERE pg_try_advisory_xact_lock($5::integer, hashtext(worker))
), picked AS (
    SELECT (SELECT q.id FROM background_job q
            WHERE q.state = 'queued' AND q.waiting_on IS NULL AND q.worker = locked.worker
              AND q.run_after <= $2 AND q.command = ANY($3::text[])
            ORDER BY q.run_after, q.id LIMIT 1 FOR UPDATE) AS id
    FROM locked
), {CLAIMED}"""

_ACTIVITY_LOGS, _ACTIVITY_TRUNCATED = append_logs("b.", "u.logs", "$5")

RECORD_ACTIVITY = f"""
UPDATE background_job AS b
SET logs = {_ACTIVITY_LOGS}, logs_truncated = {_ACTIVITY_TRUNCATED},
    progress = coalesce(u.progress, b.progress), status = coalesce(u.status, b.status),
    last_activity_date = $6
FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::text[]) AS u(id, logs, progress, status)
WHERE b.id = u.id AND b.state = 'started'
RETURNING pg_notify($7, 'activity')
"""

NEXT_DUE = """
WITH RECURSIVE queued(worker) AS (
    (SELECT worker FROM background_job
     WHERE state = 'queued' AND waiting_on IS NULL ORDER BY worker LIMIT 1)
    UNION ALL
    SELECT (SELECT b.worker FROM background_job b
            WHERE b.state = 'queued' AND b.waiting_on IS NULL AND b.worker > queued.worker
            ORDER BY b.worker LIMIT 1)
    FROM queued WHERE queued.worker IS NOT NULL
)
SELECT min((SELECT min(q.run_after) FROM background_job q
            WHERE q.state = 'queued' AND q.waiting_on IS NULL AND q.worker = queued.worker
              AND q.run_after > $1))
FROM queued WHERE worker IS NOT NULL
"""


def needs_checks(jobs: list[NewJob]) -> bool:
    """Whether inserting `jobs` must read or write other rows first (parents, ref_ids,
    batches), and so needs a transaction."""
    return any(
        j.depends_on is not None or j.ref_id is not None or j.batch_id is not None or j.waits
        for j in jobs
    )


async def insert_jobs(
    conn: Conn, jobs: list[NewJob], now: int, channel: str, *, follow_ups: bool = False
) -> list[int]:
    """Insert `jobs` (inside the caller's transaction when `needs_checks`); their ids.

    `follow_ups`: callbacks and replies of jobs already in their batch, which a closed or
    cancelled batch must not refuse (the job they serve ran; refusing would lose its result).
    Jobs that join batches are counted on them; a batch that finishes then (all its jobs
    joined already cancelled) enqueues its callbacks too.
    """
    starts = [_QUEUED] * len(jobs)
    finished: list[FinishedBatch] = []
    if needs_checks(jobs):
        starts = await _starts(conn, jobs)
        await _check_ref_ids(conn, [j.ref_id for j in jobs if j.ref_id is not None])
        joined = _joined(jobs, starts)
        if joined:
            finished = await batches.join(conn, joined, now, admit=not follow_ups)
    values = columns(
        [_job_values(job, start, now) for job, start in zip(jobs, starts, strict=True)],
        len(NEW_JOB_ARRAYS),
    )
    size = len(jobs)
    arrays = [
        None if i >= _BASE and c.count(_UNSET[i]) == size else c for i, c in enumerate(values)
    ]
    try:
        ids: list[int] = list(await conn.fetchval(INSERT_JOBS, *arrays, now, channel))
    except asyncpg.UniqueViolationError:
        # Another transaction took a ref_id between our check and our insert.
        await _check_ref_ids(conn, [j.ref_id for j in jobs if j.ref_id is not None])
        raise
    if any(j.waits for j in jobs):
        await _record_edges(conn, jobs, ids)
    if finished:
        from .finish import settle_outside  # finish inserts follow-ups with insert_jobs

        await settle_outside(conn, [], now, channel, finished)
    return ids


_QUEUED = Start(state=JobState.QUEUED)


def _joined(jobs: list[NewJob], starts: list[Start]) -> dict[str, tuple[int, int]]:
    joined: dict[str, tuple[int, int]] = {}
    for job, start in zip(jobs, starts, strict=True):
        if job.batch_id is not None:
            n, k = joined.get(job.batch_id, (0, 0))
            joined[job.batch_id] = (n + 1, k + (start.state is JobState.CANCELLED))
    return joined


async def _starts(conn: Conn, jobs: list[NewJob]) -> list[Start]:
    """How each job starts, from its parents' states (read with a share lock: a parent
    finishing meanwhile waits, then sees the child)."""
    parents = await _parent_states(conn, {p for j in jobs for p in _parents(j)})
    batch_ids = sorted({j.depends_on_batch for j in jobs if j.depends_on_batch is not None})
    batches = [tuple(r) for r in await conn.fetch(BATCH_PARENTS, batch_ids)] if batch_ids else []
    return starts_of(jobs, parents, batches)


def _parents(job: NewJob) -> list[int]:
    return parents_of(job.depends_on, job.dependencies)


async def _record_edges(conn: Conn, jobs: list[NewJob], ids: list[int]) -> None:
    """A `job_dependency` row per parent of each job that waits the rare way (several
    parents, a batch as minus its number, or the `finished` policy)."""
    parents: list[int] = []
    children: list[int] = []
    for job, job_id in zip(jobs, ids, strict=True):
        if not job.waits:
            continue
        mine = _parents(job)
        if job.depends_on_batch is not None:
            number = await conn.fetchval(
                "SELECT number FROM job_batch WHERE batch_id = $1", job.depends_on_batch
            )
            mine.append(-int(number))
        parents += mine
        children += [job_id] * len(mine)
    await conn.execute(EDGES, parents, children)


def _job_values(job: NewJob, start: Start, now: int) -> tuple[Any, ...]:
    """The job's values in NEW_JOB_ARRAYS order, its state decided by its parents'."""
    cancelled = start.state is JobState.CANCELLED
    error = None
    if start.reason is not None:
        error = error_to_json(JobError(code="DependencyFailed", message=start.reason))
    policy = job.depends_policy
    return (
        job.command, job.request_type, job.request_body, job.worker, job.run_after,
        job.retry_limit, job.timeout_secs, start.state.value, job.parent_id, job.depends_on,
        job.ref_id, job.tag, job.callback, job.batch_id, job.created_by, job.user_id,
        job.reply_to, json_or_none(job.args), json_or_none(job.meta),
        now if cancelled else None, error, start.waiting_on,
        json.dumps(job.dependencies) if job.dependencies else None, job.depends_on_batch,
        None if policy is DependencyPolicy.COMPLETED else policy.value,
    )  # fmt: skip


async def _parent_states(conn: Conn, ids: set[int]) -> dict[int, JobState]:
    if not ids:
        return {}
    rows = await conn.fetch(PARENT_STATES, sorted(ids))
    return {row[0]: JobState(row[1]) for row in rows}


async def _check_ref_ids(conn: Conn, ref_ids: list[str]) -> None:
    if not ref_ids:
        return
    if len(set(ref_ids)) != len(ref_ids):
        twice = next(r for r in ref_ids if ref_ids.count(r) > 1)
        raise DuplicateRefIdError(
            f"ref_id '{twice}' is given to two jobs in one enqueue", ref_id=twice
        )
    taken = await conn.fetchrow(REF_IDS_TAKEN, ref_ids)
    if taken is not None:
        ref_id, job_id = taken
        raise DuplicateRefIdError(
            f"ref_id '{ref_id}' is already used by job {job_id}", ref_id=ref_id, existing_id=job_id
        )


async def claim(
    conn: Conn, *, owner: str, commands: list[str], named: bool, limit: int,
    now: int, lock_class: int,
) -> list[Job]:  # fmt: skip
    """Claim in one statement; the caller retries a named claim refused by the unique index."""
    if named:
        rows = await conn.fetch(CLAIM_NAMED, owner, now, commands, limit, lock_class)
    else:
        rows = await conn.fetch(CLAIM_DEFAULT, owner, now, commands, limit)
    return [row_to_job(row) for row in rows]


async def record_activity(
    conn: Conn, updates: list[ActivityUpdate], now: int, max_log: int, channel: str
) -> None:
    await conn.fetch(
        RECORD_ACTIVITY,
        [u.job_id for u in updates], [u.logs for u in updates],
        [u.progress for u in updates], [u.status for u in updates], max_log, now, channel,
    )  # fmt: skip


async def next_due(conn: Conn, now: int) -> int | None:
    """Earliest future `run_after` of a claimable job (one index probe per worker name)."""
    value = await conn.fetchval(NEXT_DUE, now)
    return int(value) if value is not None else None
