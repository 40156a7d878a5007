"""The engine's hot path on PostgreSQL: enqueue, claim, activity, next due time (outcomes
are in `finish.py`).

Every statement is set-based (arrays in, one statement per step), so a batch of jobs costs
the same number of round trips as one job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import asyncpg

from jobs_core.batch_rules import FinishedBatch
from jobs_core.dependency_rules import Start, parents_of, starts_of
from jobs_core.records import DependencyPolicy, JobError, JobState
from jobs_core.store import numbering
from jobs_core.store.idempotency import Resolution, needs_lookup
from jobs_core.store.protocol import ActivityUpdate, EnqueuedIds, JobColumns, NewJob, Routing

from . import batches, conflicts, lookup
from .arrays import broadcast, packed
from .connection import Conn
from .listener import ANNOUNCED
from .logs import append_logs
from .rows import columns, error_to_json, json_or_none

NEW_JOB_ARRAYS = (
    "command text", "request_type text", "request_body text", "worker text", "run_after bigint",
    "retry_limit integer", "timeout_secs float8", "state text", "parent_id bigint",
    "depends_on bigint", "ref_id text", "tag text", "callback text", "batch_id text",
    "created_by text", "user_id text", "reply_to text", "args text", "meta text",
    "completed_date bigint", "error text", "waiting_on bigint", "queue text",
    "priority integer", "expires_at bigint", "concurrency_key text", "concurrency_limit integer",
    "unique_key text", "retry_policy text", "dependencies text", "depends_on_batch text",
    "depends_policy text",
)  # fmt: skip
_FULL = 2
"""The column always passed whole (`request_body`): the others may be `arrays.packed`, and
unnest makes as many rows as its longest array."""
_NAMES = [c.split()[0] for c in NEW_JOB_ARRAYS]
_DEFAULTS = {"state": "'queued'", "queue": "'default'", "priority": "0", "concurrency_limit": "1"}
"""Columns whose NULL (unset for the whole batch) is a default, and that default."""
_UNSET = [
    {"state": JobState.QUEUED.value, "queue": "default", "priority": 0, "concurrency_limit": 1}.get(
        name
    )
    for name in _NAMES
]
_UNNEST = ", ".join(f"${i + 1}::{c.split()[1]}[]" for i, c in enumerate(NEW_JOB_ARRAYS))
_JSON = ("args", "meta", "error", "dependencies")


def _values(read: Callable[[int, str, str], str]) -> str:
    """The inserted row's values, column `n` of type `t`, parameter `$i`, read as
    `read(i, n, t)`."""
    return ", ".join(
        f"coalesce({read(i + 1, n, t)}, {_DEFAULTS[n]})" if n in _DEFAULTS
        else f"{read(i + 1, n, t)}::jsonb" if n in _JSON
        else read(i + 1, n, t)
        for i, (n, t) in enumerate(c.split() for c in NEW_JOB_ARRAYS)
    )  # fmt: skip


def _element(i: int, name: str, kind: str) -> str:
    return f"u.{name}" if i == _FULL + 1 else broadcast(f"${i}::{kind}[]", f"u.{name}")


_N = len(NEW_JOB_ARRAYS)
_RETURNING = "RETURNING id, state"
INSERT_JOBS = f"""
WITH new AS (
    INSERT INTO background_job (id, created_date, {", ".join(_NAMES)})
    SELECT nextval('job_id_seq'), ${_N + 1}, {_values(_element)}
    FROM unnest({_UNNEST}) WITH ORDINALITY AS u({", ".join(_NAMES)}, n)
    ORDER BY u.n
    {_RETURNING}
), counted AS (
    UPDATE job_count SET n = job_count.n + c.n
    FROM (SELECT count(*) AS n FROM new WHERE state = 'cancelled') AS c
    WHERE job_count.state = 'cancelled' AND c.n > 0
)
SELECT array_agg(id ORDER BY id), pg_notify(${_N + 2}, ${_N + 3}) FROM new
"""

INSERT_ONE = f"""
WITH new AS (
    INSERT INTO background_job (id, created_date, {", ".join(_NAMES)})
    VALUES (nextval('job_id_seq'), ${_N + 1}, {_values(lambda i, n, t: f"${i}::{t}")})
    {_RETURNING}
)
SELECT id, pg_notify(${_N + 2}, CASE WHEN ${_N + 3} = '{ANNOUNCED}'
    THEN concat(${_N + 3}, id, ':', $1::text) ELSE ${_N + 3} END)
FROM new
"""
"""`INSERT_JOBS` for the common enqueue: one job that starts queued (nothing to check),
its values as scalars (cheaper to encode and plan than arrays of one). Its notification
names the job when it is ready and due at once (`announced`)."""

ENQUEUED = "enqueue"
ENQUEUED_DEFAULT = "enqueue:default"
"""The payload of an enqueue's notification when none of its jobs is a named worker's: an
engine then knows that no named worker's job became ready (`listener.NOT_NAMED`)."""


def enqueued(jobs: list[NewJob]) -> str:
    """The payload of the notification of an insert of `jobs`."""
    return ENQUEUED if any(j.worker for j in jobs) else ENQUEUED_DEFAULT


def announced(job: NewJob, now: int) -> bool:
    """Whether `INSERT_ONE`'s notification names `job` (`listener.ANNOUNCED`): a default
    worker's job that a plain claim could start at once and that makes no flow rule needed
    (no key), nothing else to check (`needs_checks`), so that an engine that saw nothing
    ready before it may claim it alone by id (`default_idle.py`)."""
    return (
        not job.worker and job.concurrency_key is None and job.run_after <= now
        and (job.expires_at is None or job.expires_at > now) and not needs_checks([job])
    )  # fmt: skip


EDGES = """
INSERT INTO job_dependency (parent_id, child_id)
SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING
"""

BATCH_PARENTS = """
SELECT batch_id, number, state, failed + cancelled FROM job_batch
WHERE batch_id = ANY($1::text[]) ORDER BY batch_id FOR SHARE
"""

# Parents' states are read with a share lock (`lookup.locked_states`): a parent finishing at
# the same time waits for this insert to commit, so its release (or cancel) of dependents, a
# later statement with a fresh snapshot, sees the child.

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


def needs_checks(jobs: list[NewJob]) -> bool:
    """Whether inserting `jobs` must read or write other rows first (parents, ref_ids,
    unique keys, batches), and so needs a transaction."""
    return any(
        j.depends_on is not None or j.ref_id is not None or j.batch_id is not None
        or j.unique_key is not None or j.waits
        for j in jobs
    )  # fmt: skip


async def insert_jobs(
    conn: Conn, jobs: list[NewJob], now: int, channel: str, *, follow_ups: bool = False
) -> EnqueuedIds:
    """Insert `jobs` (inside the caller's transaction when `needs_checks`); their ids.

    `follow_ups`: callbacks and replies of jobs already in their batch, which a closed or
    cancelled batch must not refuse (the job they serve ran; refusing would lose its result).
    A job whose ref_id or unique key is held (`conflicts.resolve_in`) is not inserted; its
    place holds the holder's id. Raises RacedError when a concurrent enqueue inserted one of
    them first (the caller runs the enqueue again).
    """
    resolution: Resolution | None = None
    if needs_lookup(jobs):
        resolution = await conflicts.resolve_in(conn, jobs)
    new = jobs if resolution is None else [jobs[i] for i in resolution.new_positions(len(jobs))]
    ids = await _insert_by_priority(conn, new, now, channel, follow_ups) if new else []
    return resolution.assemble(len(jobs), ids) if resolution else EnqueuedIds(ids)


async def _insert_by_priority(
    conn: Conn, jobs: list[NewJob], now: int, channel: str, follow_ups: bool
) -> list[int]:
    """`_insert_new` with the jobs of a batch of mixed priorities numbered highest first
    (`numbering.py`): rows are placed in insert order, so the jobs one claim takes share
    pages, which the claim and the finish write again; the ids in the caller's order."""
    order = numbering.by_priority(jobs)
    if order is None:
        return await _insert_new(conn, jobs, now, channel, follow_ups)
    ids = await _insert_new(conn, [jobs[i] for i in order], now, channel, follow_ups)
    return numbering.restore(order, ids)


async def _insert_new(
    conn: Conn, jobs: list[NewJob], now: int, channel: str, follow_ups: bool
) -> list[int]:
    """Insert `jobs`, none of them held: jobs that join batches are counted on them; a batch
    that finishes then (all its jobs joined already cancelled) enqueues its callbacks too."""
    starts = [_QUEUED] * len(jobs)
    finished: list[FinishedBatch] = []
    if needs_checks(jobs):
        starts = await _starts(conn, jobs)
        joined = _joined(jobs, starts)
        if joined:
            finished = await batches.join(conn, joined, now, admit=not follow_ups)
    try:
        if len(jobs) == 1 and starts[0] is _QUEUED:
            job = jobs[0]
            payload = ANNOUNCED if announced(job, now) else enqueued(jobs)
            ids = [
                await conn.fetchval(
                    INSERT_ONE, *_job_values(job, _QUEUED, now), now, channel, payload
                )
            ]
        else:
            ids = list(
                await conn.fetchval(
                    INSERT_JOBS, *_arrays(jobs, starts, now), now, channel, enqueued(jobs)
                )
            )
    except asyncpg.UniqueViolationError:
        raise conflicts.RacedError("a concurrent enqueue took a ref_id or key") from None
    await conflicts.check_archived(conn, jobs)
    if any(j.waits for j in jobs):
        await _record_edges(conn, jobs, ids)
    if finished:
        from .finish import settle_outside  # finish inserts follow-ups with insert_jobs

        await settle_outside(conn, [], now, channel, finished)
    return ids


_QUEUED = Start(state=JobState.QUEUED)
_TYPE = _NAMES.index("request_type")


def plain_columns(jobs: JobColumns) -> bool:
    """Whether `insert_columns` stores `jobs` as `insert_jobs` would their `NewJob`s: two
    jobs or more, none that reads or writes other rows first (`needs_checks`)."""
    return len(jobs) > 1 and not needs_checks([jobs.job])


async def insert_columns(conn: Conn, jobs: JobColumns, now: int, channel: str) -> EnqueuedIds:
    """Insert jobs given as columns (`plain_columns`) with `INSERT_JOBS`: the template's values
    packed once, the requests' types and bodies as the arrays (no `NewJob` or row a job);
    with `routing`, each job's queue, priority and key too, numbered by priority as
    `insert_jobs` numbers records (`numbering.py`)."""
    values = _job_values(jobs.job, _QUEUED, now)
    arrays = [packed((v,), _UNSET[i]) for i, v in enumerate(values)]
    columns_by_name: dict[int, list[Any]] = {
        _TYPE: list(jobs.request_types), _FULL: list(jobs.request_bodies),
    }  # fmt: skip
    order: list[int] | None = None
    if jobs.routing is not None:
        columns_by_name.update(_routed(jobs.routing))
        order = numbering.order(jobs.routing.priorities)
    for i, column in columns_by_name.items():
        placed = tuple(column) if order is None else tuple(column[k] for k in order)
        arrays[i] = placed if i == _FULL else packed(placed, _UNSET[i])
    ids = list(await conn.fetchval(INSERT_JOBS, *arrays, now, channel, enqueued([jobs.job])))
    return EnqueuedIds(ids if order is None else numbering.restore(order, ids))


_QUEUE, _PRIORITY, _KEY, _KEY_LIMIT = (
    _NAMES.index(n) for n in ("queue", "priority", "concurrency_key", "concurrency_limit")
)


def _routed(routing: Routing) -> dict[int, list[Any]]:
    """The columns `routing` sets, by position in `NEW_JOB_ARRAYS` (a keyed job's limit is
    the routing's, one without a key has 1, as `Routing.fields`)."""
    limit = routing.key_limit
    return {
        _QUEUE: list(routing.queues), _PRIORITY: list(routing.priorities),
        _KEY: list(routing.keys), _KEY_LIMIT: [1 if k is None else limit for k in routing.keys],
    }  # fmt: skip


def _arrays(jobs: list[NewJob], starts: list[Start], now: int) -> list[tuple[Any, ...] | None]:
    """`INSERT_JOBS`'s arrays: a column per job value, each `packed` but `request_body`."""
    values = columns(
        [_job_values(job, start, now) for job, start in zip(jobs, starts, strict=True)],
        len(NEW_JOB_ARRAYS),
    )
    return [c if i == _FULL else packed(c, _UNSET[i]) for i, c in enumerate(values)]


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
        now if cancelled else None, error, start.waiting_on, job.worker or job.queue,
        job.priority, job.expires_at, job.concurrency_key, job.concurrency_limit,
        job.unique_key, job.retry_policy,
        json.dumps(job.dependencies) if job.dependencies else None, job.depends_on_batch,
        None if policy is DependencyPolicy.COMPLETED else policy.value,
    )  # fmt: skip


async def _parent_states(conn: Conn, ids: set[int]) -> dict[int, JobState]:
    return await lookup.locked_states(conn, sorted(ids), "FOR SHARE") if ids else {}


async def record_activity(
    conn: Conn, updates: list[ActivityUpdate], now: int, max_log: int, channel: str
) -> None:
    await conn.fetch(
        RECORD_ACTIVITY,
        [u.job_id for u in updates], [u.logs for u in updates],
        [u.progress for u in updates], [u.status for u in updates], max_log, now, channel,
    )  # fmt: skip
