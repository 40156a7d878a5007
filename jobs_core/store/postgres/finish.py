"""Outcomes on PostgreSQL: transitions applied in one statement, dependents and counters in a
second, follow-up jobs inserted, all in the caller's transaction.

A job that ends (completed, failed, cancelled) leaves the live table in the same statement:
its row is deleted there and written, final, into its month's partition, so the queue never
holds finished jobs waiting for an archive pass and a job costs one write fewer.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

from jobs_core.batch_rules import FinishedBatch
from jobs_core.records import TERMINAL_STATES, JobState
from jobs_core.store.protocol import FinishResult, NewJob, Transition

from . import attempts, batches
from .connection import Conn
from .graph import RELEASE_SET, Settled, cancel_dependents, new_deltas, settle_batches
from .logs import append_logs
from .queue import insert_jobs
from .rows import error_to_json
from .schema import JOB_FIELDS

TRANSITION_ARRAYS = (
    "id bigint", "state text", "guard text", "run_after bigint", "completed_date bigint",
    "duration_ms bigint", "response_type text", "response_body text", "error text", "logs text",
    "progress float8", "status text", "notified boolean", "refund integer", "outcome text",
    "notify_error text",
)  # fmt: skip
_T_NAMES = [c.split()[0] for c in TRANSITION_ARRAYS]
_T_TYPES = [c.split()[1] for c in TRANSITION_ARRAYS]
_T_BASE = 2
_T_UNSET: dict[str, tuple[Any, str]] = {
    "logs": ("", "''"), "notified": (False, "false"), "refund": (0, "0"),
}  # fmt: skip
"""What a transition leaves a column at when it does not set it (else None), as a value and
in SQL: a column no transition of the batch sets is not bound (the statement has its value
instead), as for new jobs."""
_UNSET = [_T_UNSET.get(name, (None, "NULL")) for name in _T_NAMES]
_MAX_LOG, _NOW = "$1", "$2"
_LOGS, _TRUNCATED = append_logs("b.", "t.logs", _MAX_LOG)

CHANGED = {
    "state": "t.state", "owner": "CASE WHEN t.state = 'queued' THEN NULL ELSE b.owner END",
    "attempts": "b.attempts - t.refund",
    "run_after": "coalesce(t.run_after, b.run_after)", "completed_date": "t.completed_date",
    "duration_ms": "coalesce(t.duration_ms, b.duration_ms)",
    "response_type": "coalesce(t.response_type, b.response_type)",
    "response_body": "coalesce(t.response_body, b.response_body)", "error": "t.error::jsonb",
    "logs": _LOGS, "logs_truncated": _TRUNCATED, "progress": "coalesce(t.progress, b.progress)",
    "status": "coalesce(t.status, b.status)",
    "notified_date": f"CASE WHEN t.notified THEN {_NOW} ELSE b.notified_date END",
    "last_activity_date": _NOW, "last_outcome": "coalesce(t.outcome, b.last_outcome)",
    "notify_error": "coalesce(t.notify_error, b.notify_error)",
}  # fmt: skip
"""A job row's columns after its transition `t` (the rest stay as they are in `b`). The
attempt that ends a job stays in its row (`owner` is kept, `last_outcome` set when it
failed): `jobs_core.history` reads it from there."""

_ENDING = "state IN ('completed', 'failed', 'cancelled')"
_APPLIES = """b.id = t.id AND (t.guard IS NULL OR b.owner = t.guard)
      AND b.state NOT IN ('completed', 'failed', 'cancelled')"""
_SUMMARY = (
    "id, state, started_date, completed_date, duration_ms, attempts, response_type, error, batch_id"
)

# Each part runs only when the batch needs it, and finds its rows by primary key
# (`= ANY(ARRAY(...))`): joined to a CTE the planner cannot size, an empty part would scan
# the whole live table.
_ENDED = f"""
ended AS (
    DELETE FROM background_job AS b USING t
    WHERE b.id = ANY(ARRAY(SELECT id FROM t WHERE {_ENDING}))
      AND {_APPLIES}
    RETURNING {", ".join(f"{CHANGED.get(f, 'b.' + f)} AS {f}" for f in JOB_FIELDS)}
), completed AS (
    INSERT INTO completed_job ({", ".join(JOB_FIELDS)})
    SELECT {", ".join(JOB_FIELDS)} FROM ended WHERE state = 'completed'
), failed AS (
    INSERT INTO failed_job ({", ".join(JOB_FIELDS)})
    SELECT {", ".join(JOB_FIELDS)} FROM ended WHERE state <> 'completed'
),"""
_CHANGED = f"""
changed AS (
    UPDATE background_job AS b
    SET {", ".join(f"{f} = {e}" for f, e in CHANGED.items())}, cancel_requested = false
    FROM t
    WHERE b.id = ANY(ARRAY(SELECT id FROM t WHERE NOT {_ENDING}))
      AND {_APPLIES}
    RETURNING {", ".join("b." + f for f in _SUMMARY.split(", "))}
),"""


@functools.lru_cache(maxsize=256)
def apply_transitions(ended: bool, changed: bool, bound: tuple[int, ...]) -> str:
    """The statement applying a batch with ending transitions, others, or both, binding the
    transition columns at the positions `bound` after the cap of logs ($1) and now ($2)."""
    parts = [name for name, wanted in (("ended", ended), ("changed", changed)) if wanted]
    unnest = ", ".join(f"${n + 3}::{_T_TYPES[i]}[]" for n, i in enumerate(bound))
    columns = ", ".join(
        f"u.{name}" if i in bound else f"{_UNSET[i][1]}::{_T_TYPES[i]} AS {name}"
        for i, name in enumerate(_T_NAMES)
    )
    return f"""
WITH t AS (
    SELECT {columns}
    FROM unnest({unnest}) AS u({", ".join(_T_NAMES[i] for i in bound)})
),{_ENDED if ended else ""}{_CHANGED if changed else ""}
applied AS (
    {" UNION ALL ".join(f"SELECT {_SUMMARY} FROM {p}" for p in parts)}
), summary AS (
    UPDATE job_summary AS s
    SET state = a.state, started_date = a.started_date, completed_date = a.completed_date,
        duration_ms = a.duration_ms, attempts = a.attempts, response_type = a.response_type,
        error_code = a.error ->> 'code', error_message = a.error ->> 'message'
    FROM applied AS a WHERE s.id = a.id
)
SELECT id, batch_id FROM applied
"""


_RELEASED = f"""
released AS (
    UPDATE background_job AS b SET {RELEASE_SET}
    WHERE b.waiting_on = ANY({{ended}}::bigint[]) AND b.state = 'queued'
    RETURNING b.id, b.waiting_on
),"""
_COUNTED = """
delta AS (
    SELECT state, sum(n)::bigint AS n FROM (
        SELECT * FROM unnest({states}::text[], {counts}::bigint[]) AS d(state, n){union}) AS d
    GROUP BY state HAVING sum(n) > 0
), counted AS (
    -- Rows locked in state order, the same in every transaction: no deadlock between engines.
    INSERT INTO job_count (state, n) SELECT state, n FROM delta ORDER BY state
    ON CONFLICT (state) DO UPDATE SET n = job_count.n + excluded.n
), minute AS (
    INSERT INTO job_minute (minute, state, n) SELECT {minute}, state, n FROM delta ORDER BY state
    ON CONFLICT (minute, state) DO UPDATE SET n = job_minute.n + excluded.n
)"""


@functools.cache
def after_transitions(released: bool) -> tuple[str, tuple[str, ...]]:
    """Move on the dependents of jobs that ended (released, or waiting on their next
    pending parent) and count the finished jobs, in one statement; the statement and the
    names of its parameters, in order.

    A separate statement from the transitions on purpose: its fresh snapshot sees children
    enqueued by transactions that held their parent's summary row (queue.PARENT_STATES).
    """
    names = ["ended"] if released else []
    names += ["states", "counts", "minute", "channel"]
    marks = {name: f"${i + 1}" for i, name in enumerate(names)}
    sql = f"""
WITH{_RELEASED if released else ""}{_COUNTED}
SELECT {"(SELECT array_agg(id) FROM released WHERE waiting_on IS NULL)" if released
        else "NULL"}, pg_notify({{channel}}, 'finish')
"""  # fmt: skip
    return sql.format(union="", **marks), tuple(names)


async def finish(
    conn: Conn, transitions: list[Transition], new_jobs: list[NewJob], now: int,
    max_log: int, channel: str,
) -> FinishResult:  # fmt: skip
    """Apply transitions, keep retried attempts in the history, cancel or move on
    dependents, count jobs and batches (finishing those whose last job ended), insert
    follow-up jobs.

    The partitions of the month of `now` must exist (finished jobs go there); a missing one
    raises MissingPartitionError (see `connection.translate`).
    """
    columns: list[list[Any]] = [[] for _ in TRANSITION_ARRAYS]
    for t in transitions:
        for column, value in zip(columns, _transition_values(t, now), strict=True):
            column.append(value)
    size = len(transitions)
    bound = tuple(i for i, c in enumerate(columns) if i < _T_BASE or c.count(_UNSET[i][0]) != size)
    ending = sum(t.state in TERMINAL_STATES for t in transitions)
    sql = apply_transitions(ending > 0, ending < size or not transitions, bound)
    rows = await conn.fetch(sql, max_log, now, *(columns[i] for i in bound))
    batch_of = {row[0]: row[1] for row in rows}
    applied = [t for t in transitions if t.job_id in batch_of]
    await attempts.record(conn, applied, now)
    counts = Counter(t.state.value for t in applied if t.state in TERMINAL_STATES)
    deltas = new_deltas()
    for t in applied:
        if batch_of[t.job_id] is not None and t.state in TERMINAL_STATES:
            deltas[batch_of[t.job_id]][t.state] += 1
    completed = [t.job_id for t in applied if t.state is JobState.COMPLETED]
    stopped = [t.job_id for t in applied if t.state in (JobState.FAILED, JobState.CANCELLED)]
    cascade = await cancel_dependents(conn, stopped, now)
    for _, batch_id in cascade:
        if batch_id is not None:
            deltas[batch_id][JobState.CANCELLED] += 1
    settled = await settle_batches(conn, deltas, now) if deltas else Settled()
    cancelled = [job_id for job_id, _ in cascade] + settled.cancelled
    counts[JobState.CANCELLED.value] += len(cancelled)
    released = await count_and_release(
        conn, completed + stopped + [job_id for job_id, _ in cascade], counts, now, channel
    )
    # A follow-up of a transition that did not apply was already written (a retried finish
    # whose first commit went through) or belongs to a job this engine no longer owns.
    skipped = {t.job_id for t in transitions} - set(batch_of)
    kept = [j for j in new_jobs if j.parent_id not in skipped] + settled.follow_ups
    new_ids = await insert_jobs(conn, kept, now, channel, follow_ups=True) if kept else []
    if settled.follow_ups:
        await batches.record_callbacks(conn, kept, new_ids)
    return FinishResult(
        applied=[t.job_id for t in applied], cancelled_dependents=sorted(cancelled),
        released_dependents=released + settled.released, new_job_ids=new_ids,
        finished_batches=settled.finished_batches,
    )  # fmt: skip


async def count_and_release(
    conn: Conn, ended: list[int], counts: Counter[str], now: int, channel: str
) -> list[int]:
    """Move on the dependents of `ended` and add `counts` (by state) to the counters, in one
    statement; the released dependents."""
    counts = +counts
    sql, names = after_transitions(bool(ended))
    values = {
        "ended": ended, "states": list(counts), "counts": list(counts.values()),
        "minute": now - now % 60_000, "channel": channel,
    }  # fmt: skip
    after = await conn.fetchrow(sql, *(values[name] for name in names))
    assert after is not None  # an aggregate-only SELECT has one row
    return list(after[0] or [])


async def settle_outside(
    conn: Conn, stopped: list[int], now: int, channel: str,
    finished: list[FinishedBatch] | None = None,
) -> list[int]:  # fmt: skip
    """Settle what ended outside `finish` (a cancelled batch in `stopped` as minus its
    number, batches that `finished` as jobs joined or it closed): cancel or move on their
    dependents, count them, and insert the callbacks of batches that finished; their ids."""
    deltas = new_deltas()
    cascade = await cancel_dependents(conn, stopped, now)
    for _, batch_id in cascade:
        if batch_id is not None:
            deltas[batch_id][JobState.CANCELLED] += 1
    settled = await settle_batches(conn, deltas, now, finished)
    cancelled = len(cascade) + len(settled.cancelled)
    counts = Counter({JobState.CANCELLED.value: cancelled})
    await count_and_release(conn, stopped + [job_id for job_id, _ in cascade], counts, now, channel)
    if not settled.follow_ups:
        return []
    ids = await insert_jobs(conn, settled.follow_ups, now, channel, follow_ups=True)
    await batches.record_callbacks(conn, settled.follow_ups, ids)
    return ids


def _transition_values(t: Transition, now: int) -> tuple[Any, ...]:
    return (
        t.job_id, t.state.value, t.owner_guard, t.run_after,
        now if t.state in TERMINAL_STATES else None, t.duration_ms, t.response_type,
        t.response_body, error_to_json(t.error), t.logs, t.progress, t.status, t.notified,
        int(t.refund_attempt), t.outcome if t.state in _STOPPED else None, t.notify_error,
    )  # fmt: skip


_STOPPED = frozenset({JobState.FAILED, JobState.CANCELLED})
"""States whose transition records `last_outcome` (a completed job's last attempt completed)."""
