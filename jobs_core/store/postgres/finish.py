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

from jobs_core.records import TERMINAL_STATES, JobState
from jobs_core.store.protocol import FinishResult, NewJob, Transition

from .connection import Conn
from .logs import append_logs
from .queue import insert_jobs
from .rows import error_to_json
from .schema import JOB_FIELDS

TRANSITION_ARRAYS = (
    "id bigint", "state text", "guard text", "run_after bigint", "completed_date bigint",
    "duration_ms bigint", "response_type text", "response_body text", "error text", "logs text",
    "progress float8", "status text", "notified boolean", "refund integer",
)  # fmt: skip
_T_UNNEST = ", ".join(f"${i + 1}::{c.split()[1]}[]" for i, c in enumerate(TRANSITION_ARRAYS))
_T = len(TRANSITION_ARRAYS)
_MAX_LOG, _NOW = f"${_T + 1}", f"${_T + 2}"
_LOGS, _TRUNCATED = append_logs("b.", "t.logs", _MAX_LOG)

CHANGED = {
    "state": "t.state", "owner": "NULL", "attempts": "b.attempts - t.refund",
    "run_after": "coalesce(t.run_after, b.run_after)", "completed_date": "t.completed_date",
    "duration_ms": "coalesce(t.duration_ms, b.duration_ms)",
    "response_type": "coalesce(t.response_type, b.response_type)",
    "response_body": "coalesce(t.response_body, b.response_body)", "error": "t.error::jsonb",
    "logs": _LOGS, "logs_truncated": _TRUNCATED, "progress": "coalesce(t.progress, b.progress)",
    "status": "coalesce(t.status, b.status)",
    "notified_date": f"CASE WHEN t.notified THEN {_NOW} ELSE b.notified_date END",
    "last_activity_date": _NOW,
}  # fmt: skip
"""A job row's columns after its transition `t` (the rest stay as they are in `b`)."""

_ENDING = "state IN ('completed', 'failed', 'cancelled')"
_APPLIES = """b.id = t.id AND (t.guard IS NULL OR b.owner = t.guard)
      AND b.state NOT IN ('completed', 'failed', 'cancelled')"""
_SUMMARY = "id, state, started_date, completed_date, duration_ms, attempts, response_type, error"
_T_NAMES = ", ".join(c.split()[0] for c in TRANSITION_ARRAYS)

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


@functools.cache
def apply_transitions(ended: bool, changed: bool) -> str:
    """The statement applying a batch with ending transitions, others, or both."""
    parts = [name for name, wanted in (("ended", ended), ("changed", changed)) if wanted]
    return f"""
WITH t AS (
    SELECT * FROM unnest({_T_UNNEST}) AS t({_T_NAMES})
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
SELECT id FROM applied
"""


_RELEASED = """
released AS (
    UPDATE background_job SET waiting_on = NULL
    WHERE waiting_on = ANY({completed}::bigint[]) RETURNING id
),"""
_CANCELLED = """
dependent(id) AS (
    SELECT id FROM background_job WHERE waiting_on = ANY({stopped}::bigint[])
    UNION
    SELECT b.id FROM background_job b JOIN dependent d ON b.waiting_on = d.id
), cancelled AS (
    UPDATE background_job AS b
    SET state = 'cancelled', waiting_on = NULL, completed_date = {now},
        last_activity_date = {now},
        error = jsonb_build_object('code', 'DependencyFailed', 'message',
            'cancelled because job ' || b.depends_on || ' it depends on did not complete',
            'stack', '', 'field_errors', '{{}}'::jsonb)
    WHERE b.id = ANY(ARRAY(SELECT id FROM dependent)) AND b.state = 'queued'
    RETURNING b.id, b.depends_on
), summary AS (
    UPDATE job_summary AS s
    SET state = 'cancelled', completed_date = {now}, error_code = 'DependencyFailed',
        error_message = 'cancelled because job ' || c.depends_on
            || ' it depends on did not complete'
    FROM cancelled AS c WHERE s.id = c.id
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
def after_transitions(released: bool, cancelled: bool) -> tuple[str, tuple[str, ...]]:
    """Release the dependents of completed jobs, cancel (transitively) those of failed or
    cancelled ones, and count the finished jobs, all in one statement; the statement and the
    names of its parameters, in order.

    A separate statement from the transitions on purpose: its fresh snapshot sees children
    enqueued by transactions that held their parent's summary row (queue.PARENT_STATES).
    Dependents it cancels stay in the live table until the archive pass moves them (rare).
    """
    names = [n for n, used in (("completed", released), ("stopped", cancelled),
                               ("now", cancelled)) if used]  # fmt: skip
    names += ["states", "counts", "minute", "channel"]
    marks = {name: f"${i + 1}" for i, name in enumerate(names)}
    union = "\n        UNION ALL SELECT 'cancelled', count(*) FROM cancelled" if cancelled else ""
    sql = f"""
WITH RECURSIVE{_RELEASED if released else ""}{_CANCELLED if cancelled else ""}{_COUNTED}
SELECT {"(SELECT array_agg(id) FROM released)" if released else "NULL"},
    {"(SELECT array_agg(id ORDER BY id) FROM cancelled)" if cancelled else "NULL"},
    pg_notify({{channel}}, 'finish')
"""
    return sql.format(union=union, **marks), tuple(names)


async def finish(
    conn: Conn, transitions: list[Transition], new_jobs: list[NewJob], now: int,
    max_log: int, channel: str,
) -> FinishResult:  # fmt: skip
    """Apply transitions, release or cancel dependents, count, insert follow-up jobs.

    The partitions of the month of `now` must exist (finished jobs go there); a missing one
    raises MissingPartitionError (see `connection.translate`).
    """
    columns: list[list[Any]] = [[] for _ in range(_T)]
    for t in transitions:
        for column, value in zip(columns, _transition_values(t, now), strict=True):
            column.append(value)
    ending = sum(t.state in TERMINAL_STATES for t in transitions)
    sql = apply_transitions(ending > 0, ending < len(transitions) or not transitions)
    rows = await conn.fetch(sql, *columns, max_log, now)
    applied_ids = {row[0] for row in rows}
    applied = [t for t in transitions if t.job_id in applied_ids]
    counts = Counter(t.state.value for t in applied if t.state in TERMINAL_STATES)
    completed = [t.job_id for t in applied if t.state is JobState.COMPLETED]
    stopped = [t.job_id for t in applied if t.state in (JobState.FAILED, JobState.CANCELLED)]
    sql, names = after_transitions(bool(completed), bool(stopped))
    values = {
        "completed": completed, "stopped": stopped, "now": now, "states": list(counts),
        "counts": list(counts.values()), "minute": now - now % 60_000, "channel": channel,
    }  # fmt: skip
    after = await conn.fetchrow(sql, *(values[name] for name in names))
    assert after is not None  # an aggregate-only SELECT has one row
    released, cancelled = after[0], after[1]
    # A follow-up of a transition that did not apply was already written (a retried finish
    # whose first commit went through) or belongs to a job this engine no longer owns.
    skipped = {t.job_id for t in transitions} - applied_ids
    kept = [j for j in new_jobs if j.parent_id not in skipped]
    new_ids = await insert_jobs(conn, kept, now, channel, follow_ups=True) if kept else []
    return FinishResult(
        applied=[t.job_id for t in applied],
        cancelled_dependents=list(cancelled or []),
        released_dependents=list(released or []),
        new_job_ids=new_ids,
    )


def _transition_values(t: Transition, now: int) -> tuple[Any, ...]:
    return (
        t.job_id, t.state.value, t.owner_guard, t.run_after,
        now if t.state in TERMINAL_STATES else None, t.duration_ms, t.response_type,
        t.response_body, error_to_json(t.error), t.logs, t.progress, t.status, t.notified,
        int(t.refund_attempt),
    )  # fmt: skip
