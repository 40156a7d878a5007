"""The engine's hot path on SQLite: enqueue, claim, finish, activity, recovery."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from jobs_core.batch_rules import FinishedBatch
from jobs_core.dependency_rules import Start
from jobs_core.flow_records import DEFAULT_QUEUE
from jobs_core.records import TERMINAL_STATES, DependencyPolicy, JobState
from jobs_core.store import numbering
from jobs_core.store.idempotency import needs_lookup
from jobs_core.store.protocol import (
    ActivityUpdate,
    EnqueuedIds,
    FinishResult,
    NewJob,
    Transition,
)

from . import attempts, batches, claims, conflicts, dependencies, multirow, tallies
from .graph import Settled, new_deltas, settle
from .logs import append_logs
from .rows import error_to_json
from .summaries import NEXT_ID

_TRANSITION_LOGS, _TRANSITION_TRUNCATED = append_logs("b.", "t.logs", "?2")
_ACTIVITY_LOGS, _ACTIVITY_TRUNCATED = append_logs("", ":logs", ":max_log")

INSERT_ONE = f"""
INSERT INTO background_job (id, command, request_type, request_body, state, worker, run_after,
    created_date, retry_limit, timeout_secs)
VALUES (({NEXT_ID}) + 1, ?, ?, ?, 'queued', '', ?, ?, ?, ?)
"""
"""A lone job that sets none of OPTIONAL_COLUMNS (a plain `enqueue`) in one statement, its id
found in the INSERT (`cursor.lastrowid` gives it back); it has no summary row until it is
archived (`summaries.py`)."""

BASE_COLUMNS = (
    "id", "command", "request_type", "request_body", "state", "worker", "run_after",
    "created_date", "retry_limit", "timeout_secs",
)  # fmt: skip
"""Columns every new job sets."""

OPTIONAL_COLUMNS = (
    "parent_id", "depends_on", "ref_id", "tag", "callback", "batch_id", "created_by",
    "user_id", "reply_to", "args", "meta", "completed_date", "error", "waiting_on",
    "queue", "priority", "expires_at", "concurrency_key", "concurrency_limit", "unique_key",
    "retry_policy", "dependencies", "depends_on_batch", "depends_policy",
)  # fmt: skip
"""Columns a new job may set; an insert binds only those some job of the batch uses,
because binding a NULL costs as much as a value (9.8 µs/job for all 35 columns against
2.9 µs for the 10 base ones, measured with executemany)."""

NOT_NULL_DEFAULTS = {
    OPTIONAL_COLUMNS.index(name): value
    for name, value in (("queue", DEFAULT_QUEUE), ("priority", 0), ("concurrency_limit", 1))
}
"""Optional columns that are NOT NULL, by position, with their defaults."""


@functools.lru_cache(maxsize=256)
def _columns(optional: tuple[int, ...]) -> tuple[str, ...]:
    return BASE_COLUMNS + tuple(OPTIONAL_COLUMNS[i] for i in optional)


TRANSITION_FIELDS = (
    "id", "state", "guard", "run_after", "completed_date", "duration_ms", "response_type",
    "response_body", "error", "logs", "progress", "status", "notified", "refund", "outcome",
    "notify_error",
)  # fmt: skip
"""The values of a transition, in the order `_transition_values` lists them."""

APPLY_CHUNK = 256
"""Most transitions one statement applies (16 parameters each)."""

_APPLY_BODY = f"""
UPDATE background_job AS b
SET state = t.state, owner = CASE WHEN t.state = 'queued' THEN NULL ELSE b.owner END,
    cancel_requested = 0, attempts = b.attempts - t.refund,
    run_after = coalesce(t.run_after, b.run_after),
    completed_date = t.completed_date,
    duration_ms = coalesce(t.duration_ms, b.duration_ms),
    response_type = coalesce(t.response_type, b.response_type),
    response_body = coalesce(t.response_body, b.response_body),
    error = t.error,
    logs = {_TRANSITION_LOGS},
    logs_truncated = {_TRANSITION_TRUNCATED},
    progress = coalesce(t.progress, b.progress),
    status = coalesce(t.status, b.status),
    notified_date = CASE WHEN t.notified THEN ?1 ELSE b.notified_date END,
    last_activity_date = ?1,
    last_outcome = coalesce(t.outcome, b.last_outcome),
    notify_error = coalesce(t.notify_error, b.notify_error)
FROM t
WHERE b.id = t.id AND (t.guard IS NULL OR b.owner = t.guard)
  AND b.state NOT IN ('completed', 'failed', 'cancelled')
RETURNING id, batch_id, queue, concurrency_key
"""
"""Transitions are bound as parameters, not read from a JSON array (reading 14 fields of
each from JSON cost 5.8 µs a transition, binding them 3.0 µs, measured). A retried
attempt's row in the history is written by `attempts.record`; the attempt that ends the
job stays in its row (`owner` is kept, `last_outcome` set when it failed)."""


@functools.lru_cache(maxsize=64)
def apply_transitions_sql(rows: int) -> str:
    """The statement applying `rows` transitions bound as parameters: ?1 is now, ?2 the log
    cap, then each transition's TRANSITION_FIELDS in order."""
    width = len(TRANSITION_FIELDS)
    values = ", ".join(
        "(" + ", ".join(f"?{3 + r * width + c}" for c in range(width)) + ")" for r in range(rows)
    )
    return f"WITH t({', '.join(TRANSITION_FIELDS)}) AS (VALUES {values}){_APPLY_BODY}"


_COMPLETE_BODY = """
UPDATE background_job AS b
SET state = 'completed', cancel_requested = 0, completed_date = ?1,
    duration_ms = coalesce(t.duration_ms, b.duration_ms),
    response_type = coalesce(t.response_type, b.response_type),
    response_body = t.response_body, error = NULL, progress = 1.0, last_activity_date = ?1
FROM t
WHERE b.id = t.id AND (t.guard IS NULL OR b.owner = t.guard)
  AND b.state NOT IN ('completed', 'failed', 'cancelled')
RETURNING id, batch_id, queue, concurrency_key
"""
"""`_APPLY_BODY` for transitions that only complete their job (`_completes_only`): the
columns it would set to what they were are left out, so 5 values are bound a row instead of
16 and no expression of theirs runs (the capped logs' append, the coalesces): 5.3 against
8.9 µs a row, 100 rows a statement, the Python that makes the parameters included
(measured; bench/README.md, "The engine's per-job path, sixth pass")."""

COMPLETE_FIELDS = ("id", "guard", "duration_ms", "response_type", "response_body")


@functools.lru_cache(maxsize=64)
def complete_sql(rows: int) -> str:
    """The statement completing `rows` jobs: ?1 is now, then each one's COMPLETE_FIELDS."""
    width = len(COMPLETE_FIELDS)
    values = ", ".join(
        "(" + ", ".join(f"?{2 + r * width + c}" for c in range(width)) + ")" for r in range(rows)
    )
    return f"WITH t({', '.join(COMPLETE_FIELDS)}) AS (VALUES {values}){_COMPLETE_BODY}"


def _completes_only(t: Transition) -> bool:
    """Whether `t` sets nothing but what `_COMPLETE_BODY` sets: a handler that returned,
    with no logs, status or error to record and nothing to notify."""
    return (
        t.state is JobState.COMPLETED and t.progress == 1.0 and t.response_body is not None
        and not t.logs and t.error is None and t.status is None and t.run_after is None
        and not t.notified and not t.refund_attempt and t.notify_error is None
    )  # fmt: skip


def _padded(n: int) -> int:
    """Statement sizes: exact up to 16 transitions, then multiples of 16 (the rows past `n`
    are NULLs that match no job), so a few dozen statements stay compiled."""
    return n if n <= 16 else -(-n // 16) * 16


RECORD_ACTIVITY = f"""
UPDATE background_job
SET logs = {_ACTIVITY_LOGS}, logs_truncated = {_ACTIVITY_TRUNCATED},
    progress = coalesce(:progress, progress), status = coalesce(:status, status),
    last_activity_date = :now
WHERE id = :id AND state = 'started'
"""


def insert_jobs(
    conn: sqlite3.Connection, jobs: list[NewJob], now: int, *, follow_ups: bool = False
) -> EnqueuedIds:
    """Insert `jobs` inside the caller's transaction; returns their ids.

    `follow_ups`: callbacks and replies of jobs already in their batch, which a closed or
    cancelled batch must not refuse (the job they serve ran; refusing would lose its result).
    A job whose ref_id or unique key is already held (see `conflicts.resolve`) is not
    inserted: its place holds the id of the job holding it, listed in `existing`.
    """
    if len(jobs) == 1 and is_plain(jobs[0]):
        return EnqueuedIds([_insert_one(conn, jobs[0], now)])
    if not needs_lookup(jobs):
        return EnqueuedIds(_insert_new(conn, jobs, now, follow_ups))
    resolution = conflicts.resolve_in(conn, jobs)
    fresh = resolution.new_positions(len(jobs))
    new = [jobs[i] for i in fresh]
    ids = _insert_new(conn, new, now, follow_ups) if new else []
    return resolution.assemble(len(jobs), ids)


def _insert_new(
    conn: sqlite3.Connection, jobs: list[NewJob], now: int, follow_ups: bool
) -> list[int]:
    order = numbering.by_priority(jobs)
    if order is None:
        return _insert_numbered(conn, jobs, now, follow_ups)
    ids = _insert_numbered(conn, [jobs[i] for i in order], now, follow_ups)
    return numbering.restore(order, ids)


def _insert_numbered(
    conn: sqlite3.Connection, jobs: list[NewJob], now: int, follow_ups: bool
) -> list[int]:
    """Insert `jobs` numbered in list order."""
    first = conn.execute(NEXT_ID).fetchone()[0] + 1
    ids = list(range(first, first + len(jobs)))
    plain = all(j.depends_on is None and not j.waits for j in jobs)
    starts = [_QUEUED] * len(jobs) if plain else dependencies.starts(conn, jobs)
    base_rows: list[tuple[Any, ...]] = []
    optional_rows: list[tuple[Any, ...] | None] = []
    joined: dict[str, tuple[int, int]] = {}
    cancelled = 0
    for job_id, job, start in zip(ids, jobs, starts, strict=True):
        gone = start.state is JobState.CANCELLED
        cancelled += gone
        if job.batch_id is not None:
            n, k = joined.get(job.batch_id, (0, 0))
            joined[job.batch_id] = (n + 1, k + gone)
        base_rows.append(
            (job_id, job.command, job.request_type, job.request_body, start.state.value,
             job.worker, job.run_after, now, job.retry_limit, job.timeout_secs)
        )  # fmt: skip
        optional_rows.append(_optional_values(job, start, now))
    finished = batches.join(conn, joined, now, admit=not follow_ups) if joined else []
    _insert_rows(conn, base_rows, optional_rows)
    if not plain:
        dependencies.record_edges(conn, jobs, ids)
    if cancelled:
        _count(conn, {JobState.CANCELLED: cancelled})
    if finished:
        settle_outside(conn, [], now, finished)
    return ids


_QUEUED = Start(state=JobState.QUEUED)


def _insert_one(conn: sqlite3.Connection, job: NewJob, now: int) -> int:
    """A lone plain job (nothing to look up, no dependency, no optional column); its id."""
    values = (job.command, job.request_type, job.request_body, job.run_after, now,
              job.retry_limit, job.timeout_secs)  # fmt: skip
    job_id: int = conn.execute(INSERT_ONE, values).lastrowid  # type: ignore[assignment]
    return job_id


def is_plain(job: NewJob) -> bool:
    """Whether `job` sets none of OPTIONAL_COLUMNS (the common case): nothing to look up,
    no dependency, no batch, queued at once."""
    # The flow fields first: a job that sets any (a batch of the mixed workload) is told
    # apart at the first test, inside the write lock.
    return (
        job.queue == DEFAULT_QUEUE and not job.priority and job.concurrency_key is None
        and job.parent_id is None and job.depends_on is None and job.ref_id is None
        and job.tag is None and job.callback is None and job.batch_id is None
        and job.created_by is None and job.user_id is None and job.reply_to is None
        and not job.args and not job.meta and not job.waits and not job.worker
        and job.expires_at is None and job.unique_key is None and job.retry_policy is None
    )  # fmt: skip


def inbox_route(job: NewJob) -> tuple[Any, ...] | None:
    """The job's values of the inbox's routed columns (`inbox.ROUTE_COLUMNS`, NULL where
    `background_job` has the default; the first `inbox.FLOW_ROUTE_WIDTH` alone when it sets
    none of the others) if its insert looks up or decides nothing (no ref_id, unique key,
    parent, batch, dependency or named worker), else None: it goes to `jobs.db`. A plain
    job's is empty (it sets none)."""
    if is_plain(job):
        return ()
    if (
        job.parent_id is not None or job.depends_on is not None or job.ref_id is not None
        or job.batch_id is not None or job.waits or job.worker or job.unique_key is not None
    ):  # fmt: skip
        return None
    key = job.concurrency_key
    flow = (
        None if job.queue == DEFAULT_QUEUE else job.queue, job.priority or None, key,
        None if key is None else job.concurrency_limit, job.expires_at, job.retry_policy,
        job.tag, json.dumps(job.meta) if job.meta else None,
    )  # fmt: skip
    if (
        job.callback is None and job.created_by is None and job.user_id is None
        and job.reply_to is None and not job.args
    ):  # fmt: skip
        return flow
    return (
        *flow, job.callback, job.created_by, job.user_id, job.reply_to,
        json.dumps(job.args) if job.args else None,
    )  # fmt: skip


def _optional_values(job: NewJob, start: Start, now: int) -> tuple[Any, ...] | None:
    """The job's values for OPTIONAL_COLUMNS, or None when it sets none (the common case)."""
    if is_plain(job):
        return None
    error = start.reason
    error_json = json.dumps({"code": "DependencyFailed", "message": error}) if error else None
    policy = job.depends_policy
    return (
        job.parent_id, job.depends_on, job.ref_id, job.tag, job.callback, job.batch_id,
        job.created_by, job.user_id, job.reply_to,
        json.dumps(job.args) if job.args else None,
        json.dumps(job.meta) if job.meta else None,
        now if start.state is JobState.CANCELLED else None, error_json, start.waiting_on,
        job.worker or (None if job.queue == DEFAULT_QUEUE else job.queue), job.priority or None,
        job.expires_at, job.concurrency_key,
        None if job.concurrency_key is None else job.concurrency_limit,
        job.unique_key, job.retry_policy,
        json.dumps(job.dependencies) if job.dependencies else None, job.depends_on_batch,
        None if policy is DependencyPolicy.COMPLETED else policy.value,
    )  # fmt: skip


def _insert_rows(
    conn: sqlite3.Connection,
    base_rows: list[tuple[Any, ...]],
    optional_rows: list[tuple[Any, ...] | None],
) -> None:
    """INSERTs binding the base columns plus the optional ones the batch uses."""
    multirow.insert(conn, *_bound_rows(base_rows, optional_rows))


def _bound_rows(
    base_rows: list[tuple[Any, ...]], optional_rows: list[tuple[Any, ...] | None]
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """The columns bound (the base ones plus the optional ones the batch uses) and the
    rows.

    Column by column (`list.count` and comprehensions over one column): value by value it
    cost ~4 µs a job of a batch setting queue, priority and key, inside the write lock."""
    rows = base_rows
    optional: tuple[int, ...] = ()
    if any(values is not None for values in optional_rows):
        empty = (None,) * len(OPTIONAL_COLUMNS)
        columns = list(zip(*(values or empty for values in optional_rows), strict=True))
        optional = tuple(i for i, column in enumerate(columns) if column.count(None) < len(rows))
        if optional:
            used = zip(*(_with_default(i, columns[i]) for i in optional), strict=True)
            rows = [base + values for base, values in zip(base_rows, used, strict=True)]
    return _columns(optional), rows


def queued_rows(
    jobs: list[NewJob], created: list[int]
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """The columns `jobs` bind and their rows, numbered 0 (the caller sets each row's id,
    first), `created[i]` job i's created date: jobs that start queued (no parent, no
    batch), as `_insert_numbered` inserts them."""
    base_rows = [
        (0, job.command, job.request_type, job.request_body, "queued", job.worker,
         job.run_after, now, job.retry_limit, job.timeout_secs)
        for job, now in zip(jobs, created, strict=True)
    ]  # fmt: skip
    if any(map(_routed, jobs)) and all(map(_routed_only, jobs)):  # 0.7 µs a job less
        return _routed_rows(base_rows, jobs)
    # `now` only dates a job that starts cancelled, which none of these does.
    return _bound_rows(base_rows, [_optional_values(job, _QUEUED, 0) for job in jobs])


def _routed_rows(
    base_rows: list[tuple[Any, ...]], jobs: list[NewJob]
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """The rows of jobs that set no optional column but queue, priority or key, each with
    its queue, priority and key, and its key's limit unless every one is the default (1):
    each value bound costs ~0.1 µs a row inside the write lock."""
    keys = [job.concurrency_key for job in jobs]
    limits = [
        1 if key is None else job.concurrency_limit for job, key in zip(jobs, keys, strict=True)
    ]
    if limits.count(1) == len(limits):
        return _ROUTED_COLUMNS[:-1], [
            (*base, job.queue, job.priority, key)
            for base, job, key in zip(base_rows, jobs, keys, strict=True)
        ]
    return _ROUTED_COLUMNS, [
        (*base, job.queue, job.priority, key, limit)
        for base, job, key, limit in zip(base_rows, jobs, keys, limits, strict=True)
    ]


_ROUTED_COLUMNS = (*BASE_COLUMNS, "queue", "priority", "concurrency_key", "concurrency_limit")
"""The columns of jobs that set no optional column but queue, priority or key (a column a
job leaves at its default gets that default's value, as unbound)."""


def _routed(job: NewJob) -> bool:
    return job.queue != DEFAULT_QUEUE or bool(job.priority) or job.concurrency_key is not None


def _routed_only(job: NewJob) -> bool:
    """Whether `job` sets none of OPTIONAL_COLUMNS but queue, priority, concurrency key and
    limit (`is_plain` but those), and no worker (whose queue is the worker's)."""
    return (
        not job.worker and job.parent_id is None and job.depends_on is None
        and job.ref_id is None and job.tag is None and job.callback is None
        and job.batch_id is None and job.created_by is None and job.user_id is None
        and job.reply_to is None and not job.args and not job.meta and not job.waits
        and job.expires_at is None and job.unique_key is None and job.retry_policy is None
    )  # fmt: skip


def _with_default(index: int, column: tuple[Any, ...]) -> tuple[Any, ...] | list[Any]:
    """A bound NULL for a NOT NULL column is its default (columns with one are bound only
    when some job of the batch sets them, and then for every job)."""
    default = NOT_NULL_DEFAULTS.get(index)
    if default is None or None not in column:
        return column
    return [default if value is None else value for value in column]


def finish(
    conn: sqlite3.Connection,
    transitions: list[Transition],
    new_jobs: list[NewJob],
    now: int,
    max_log: int,
    before_insert: Callable[[], None] | None = None,
) -> FinishResult:
    """Apply transitions, keep retried attempts in the history, release or cancel
    dependents, count batches (finishing those whose last job ended), insert follow-ups
    (`before_insert` called first: the store's inbox moved in, so they number after it)."""
    rows = _apply(conn, transitions, now, max_log)
    batch_of = {row[0]: row[1] for row in rows}
    applied = [t for t in transitions if t.job_id in batch_of]
    if batch_of:
        attempts.record(conn, applied, now)
    counts = Counter(t.state for t in applied if t.state in TERMINAL_STATES)
    deltas = new_deltas()
    for t in applied:
        batch_id = batch_of[t.job_id]
        if batch_id is not None and t.state in TERMINAL_STATES:
            deltas[batch_id][t.state] += 1
    completed = [t.job_id for t in applied if t.state is JobState.COMPLETED]
    stopped = [t.job_id for t in applied if t.state in (JobState.FAILED, JobState.CANCELLED)]
    settled = settle(conn, completed, stopped, deltas, now)
    counts[JobState.CANCELLED] += len(settled.cancelled)
    _count(conn, counts)
    _count_minute(conn, counts, now)
    _after_flow(conn, rows, applied, settled, now)
    ended = [t.job_id for t in applied if t.state in TERMINAL_STATES]
    tallies.record(conn, ended + settled.cancelled, now)
    follow = [*new_jobs, *settled.follow_ups]
    if follow and before_insert is not None:
        before_insert()
    new_ids = insert_jobs(conn, follow, now, follow_ups=True) if follow else []
    if settled.follow_ups:
        batches.record_callbacks(conn, follow, new_ids)
    return FinishResult(
        applied=[t.job_id for t in applied],
        cancelled_dependents=settled.cancelled,
        released_dependents=settled.released,
        new_job_ids=new_ids,
        finished_batches=settled.finished_batches,
    )


def _apply(
    conn: sqlite3.Connection, transitions: list[Transition], now: int, max_log: int
) -> list[Any]:
    """Apply `transitions` (APPLY_CHUNK a statement); the rows of those applied."""
    rows: list[Any] = []
    width = len(TRANSITION_FIELDS)
    for first in range(0, len(transitions), APPLY_CHUNK):
        chunk = transitions[first : first + APPLY_CHUNK]
        if all(map(_completes_only, chunk)):  # most batches: every job returned
            rows += _complete(conn, chunk, now)
            continue
        size = _padded(len(chunk))
        params: list[Any] = [now, max_log]
        for t in chunk:
            params += _transition_values(t, now)
        params += [None] * ((size - len(chunk)) * width)
        rows += conn.execute(apply_transitions_sql(size), params).fetchall()
    return rows


def _complete(conn: sqlite3.Connection, chunk: list[Transition], now: int) -> list[Any]:
    size = _padded(len(chunk))
    params: list[Any] = [now]
    for t in chunk:
        params += (t.job_id, t.owner_guard, t.duration_ms, t.response_type, t.response_body)
    params += [None] * ((size - len(chunk)) * len(COMPLETE_FIELDS))
    return conn.execute(complete_sql(size), params).fetchall()


def _transition_values(t: Transition, now: int) -> tuple[Any, ...]:
    """A transition's values in the order of TRANSITION_FIELDS."""
    return (
        t.job_id, t.state.value, t.owner_guard, t.run_after,
        now if t.state in TERMINAL_STATES else None, t.duration_ms, t.response_type,
        t.response_body, error_to_json(t.error), t.logs, t.progress, t.status,
        int(t.notified), int(t.refund_attempt),
        t.outcome if t.state in _STOPPED else None, t.notify_error,
    )  # fmt: skip


_STOPPED = frozenset({JobState.FAILED, JobState.CANCELLED})
"""States whose transition records `last_outcome` (a completed job's last attempt completed)."""


def settle_outside(
    conn: sqlite3.Connection, stopped: list[int], now: int,
    finished: list[FinishedBatch] | None = None,
) -> list[int]:  # fmt: skip
    """Settle what ended outside `finish` (a cancelled batch in `stopped` as minus its
    number, batches that `finished` as jobs joined or it closed): count the dependents it
    cancelled (per state, queue and command) and insert the callbacks of batches it
    finished; returns their ids."""
    settled = settle(conn, [], stopped, new_deltas(), now, finished)
    if settled.cancelled:
        counts = Counter({JobState.CANCELLED: len(settled.cancelled)})
        _count(conn, counts)
        _count_minute(conn, counts, now)
        _count_queues(conn, Counter(), settled, now)
        tallies.record(conn, settled.cancelled, now)
    if not settled.follow_ups:
        return []
    ids = insert_jobs(conn, settled.follow_ups, now, follow_ups=True)
    batches.record_callbacks(conn, settled.follow_ups, ids)
    return ids


def _after_flow(
    conn: sqlite3.Connection,
    rows: list[tuple[int, str | None, str, str | None]],
    applied: list[Transition],
    settled: Settled,
    now: int,
) -> None:
    """Flow-control bookkeeping of a finish: jobs finished per queue and minute, and the
    parked jobs of keys whose job left the started state let back."""
    queue_of = {row[0]: row[2] for row in rows}
    finished: Counter[tuple[str, str]] = Counter(
        (queue_of[t.job_id], t.state.value) for t in applied if t.state in TERMINAL_STATES
    )
    _count_queues(conn, finished, settled, now)
    claims.unpark(conn, [row[3] for row in rows if row[3] is not None])


def _count_queues(
    conn: sqlite3.Connection, finished: Counter[tuple[str, str]], settled: Settled, now: int
) -> None:
    """Jobs finished per queue and minute, the dependents `settled` cancelled included."""
    finished.update((queue, JobState.CANCELLED.value) for queue in settled.cancelled_queues)
    if finished:
        minute = now - now % 60_000
        conn.executemany(
            "INSERT INTO queue_minute (queue, minute, state, n) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET n = n + excluded.n",
            [(queue, minute, state, n) for (queue, state), n in finished.items()],
        )


def _count(conn: sqlite3.Connection, counts: Counter[JobState] | dict[JobState, int]) -> None:
    for state, n in counts.items():
        if n:
            conn.execute("UPDATE job_count SET n = n + ? WHERE state = ?", (n, state.value))


def _count_minute(conn: sqlite3.Connection, counts: Counter[JobState], now: int) -> None:
    minute = now - now % 60_000
    for state, n in counts.items():
        if n:
            conn.execute(
                "INSERT INTO job_minute (minute, state, n) VALUES (?, ?, ?) "
                "ON CONFLICT DO UPDATE SET n = n + excluded.n",
                (minute, state.value, n),
            )


def record_activity(
    conn: sqlite3.Connection, updates: Iterable[ActivityUpdate], now: int, max_log: int
) -> None:
    conn.executemany(
        RECORD_ACTIVITY,
        [
            {"logs": u.logs, "max_log": max_log, "progress": u.progress, "status": u.status,
             "now": now, "id": u.job_id}
            for u in updates
        ],
    )  # fmt: skip
