"""Outcomes on PostgreSQL: a batch of transitions, their history rows, dependents and
counters in one call of the schema's `finish_jobs` (see finish_sql.py); then, in the same
transaction, the batches they count on (finishing those whose last job ended) and the
follow-up jobs (callbacks, replies) they lead to."""

from __future__ import annotations

from collections import Counter
from typing import Any

import asyncpg

from jobs_core.batch_rules import FinishedBatch
from jobs_core.records import TERMINAL_STATES, JobState
from jobs_core.store.protocol import FinishResult, NewJob, Transition

from . import batches
from .arrays import packed
from .connection import Conn
from .dependents_sql import RELEASE_SET
from .finish_sql import DEFERRED, FINISH, TRANSITION_COLUMNS
from .graph import Settled, cancel_dependents, new_deltas, settle_batches
from .queue import insert_jobs
from .rows import columns, error_to_json

_UNSET: list[Any] = [
    {"logs": "", "notified": False, "refund": 0}.get(c.split()[0]) for c in TRANSITION_COLUMNS
]
"""Each transition column's value when a transition leaves it alone (see `arrays.packed`)."""


async def finish_alone(
    conn: Conn, transitions: list[Transition], now: int, max_log: int, channel: str
) -> FinishResult | None:
    """`finish` without follow-up jobs as one statement, outside any transaction; None
    (nothing done) when it needs one: a job of `transitions`, or a dependent it would
    cancel, is in a batch."""
    try:
        row = await conn.fetchrow(FINISH, False, max_log, now, channel, *_arrays(transitions, now))
    except asyncpg.PostgresError as error:
        if getattr(error, "sqlstate", None) == DEFERRED:
            return None
        raise
    assert row is not None  # the function returns one row
    if row[5]:
        return None
    applied = set(row[0])
    return FinishResult(
        applied=[t.job_id for t in transitions if t.job_id in applied],
        cancelled_dependents=list(row[2]), released_dependents=list(row[1]), new_job_ids=[],
    )  # fmt: skip


async def finish(
    conn: Conn, transitions: list[Transition], new_jobs: list[NewJob], now: int,
    max_log: int, channel: str,
) -> FinishResult:  # fmt: skip
    """Apply transitions, keep retried attempts in the history, cancel or move on
    dependents, count jobs and batches (finishing those whose last job ended), insert
    follow-up jobs, in the caller's transaction.

    The partitions of the month of `now` must exist (finished jobs go there); a missing one
    raises MissingPartitionError (see `connection.translate`).
    """
    row = await conn.fetchrow(FINISH, True, max_log, now, channel, *_arrays(transitions, now))
    assert row is not None  # the function returns one row
    applied_ids, released, cancelled, batch_ids, batch_states, _ = row
    applied = set(applied_ids)
    deltas = new_deltas()
    for batch_id, state in zip(batch_ids, batch_states, strict=True):
        deltas[batch_id][JobState(state)] += 1
    settled = await settle_batches(conn, deltas, now) if deltas else Settled()
    if settled.cancelled:
        counts = Counter({JobState.CANCELLED.value: len(settled.cancelled)})
        await count_and_release(conn, [], counts, now, channel)
    # A follow-up of a transition that did not apply was already written (a retried finish
    # whose first commit went through) or belongs to a job this engine no longer owns.
    skipped = {t.job_id for t in transitions} - applied
    kept = [j for j in new_jobs if j.parent_id not in skipped] + settled.follow_ups
    new_ids = await insert_jobs(conn, kept, now, channel, follow_ups=True) if kept else []
    if settled.follow_ups:
        await batches.record_callbacks(conn, kept, new_ids)
    return FinishResult(
        applied=[t.job_id for t in transitions if t.job_id in applied],
        cancelled_dependents=sorted([*cancelled, *settled.cancelled]),
        released_dependents=[*released, *settled.released], new_job_ids=new_ids,
        finished_batches=settled.finished_batches,
    )  # fmt: skip


def _arrays(transitions: list[Transition], now: int) -> list[tuple[Any, ...] | None]:
    """`finish_jobs`'s arrays: the ids, then each column `packed`."""
    ids, *values = columns(
        [_transition_values(t, now) for t in transitions], len(TRANSITION_COLUMNS)
    )
    return [ids, *(packed(c, unset) for c, unset in zip(values, _UNSET[1:], strict=True))]


_RELEASED = f"""
released AS (
    UPDATE background_job AS b SET {RELEASE_SET}
    WHERE b.waiting_on IS NOT NULL AND b.waiting_on = ANY({{ended}}::bigint[])
      AND b.state = 'queued'
    RETURNING b.id, b.waiting_on
),"""
_COUNTED = """
delta AS (
    SELECT state, sum(n)::bigint AS n FROM (
        SELECT * FROM unnest({states}::text[], {counts}::bigint[]) AS d(state, n)) AS d
    GROUP BY state HAVING sum(n) > 0
), counted AS (
    -- Rows locked in state order, the same in every transaction: no deadlock between engines.
    INSERT INTO job_count (state, n) SELECT state, n FROM delta ORDER BY state
    ON CONFLICT (state) DO UPDATE SET n = job_count.n + excluded.n
), minute AS (
    INSERT INTO job_minute (minute, state, n) SELECT {minute}, state, n FROM delta ORDER BY state
    ON CONFLICT (minute, state) DO UPDATE SET n = job_minute.n + excluded.n
)"""


def _after_sql(released: bool) -> tuple[str, tuple[str, ...]]:
    names = ["ended"] if released else []
    names += ["states", "counts", "minute", "channel"]
    marks = {name: f"${i + 1}" for i, name in enumerate(names)}
    sql = f"""
WITH{_RELEASED if released else ""}{_COUNTED}
SELECT {"(SELECT array_agg(id) FROM released WHERE waiting_on IS NULL)" if released
        else "NULL"}, pg_notify({{channel}}, 'finish')
"""  # fmt: skip
    return sql.format(**marks), tuple(names)


_AFTER = {released: _after_sql(released) for released in (False, True)}


async def count_and_release(
    conn: Conn, ended: list[int], counts: Counter[str], now: int, channel: str
) -> list[int]:
    """Move on the dependents of `ended` and add `counts` (by state) to the counters, in one
    statement (for jobs that ended outside `finish_jobs`); the released dependents.

    A separate statement from the one that ended them on purpose: its fresh snapshot sees
    children enqueued by transactions that held their parent's summary row
    (queue.PARENT_STATES)."""
    counts = +counts
    sql, names = _AFTER[bool(ended)]
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
    state, error = t.state, t.error
    ended: int | None
    # Most transitions complete their job: their state's text, end and outcome without the
    # enum's `value` descriptor and set lookups (a third of this function's time, measured).
    if state is _COMPLETED:
        value, ended, outcome = "completed", now, None
    else:
        value, ended = state.value, now if state in TERMINAL_STATES else None
        outcome = t.outcome.value if t.outcome is not None and state in _RECORDED else None
    return (
        t.job_id, value, t.owner_guard, t.run_after, ended, t.duration_ms, t.response_type,
        t.response_body, None if error is None else error_to_json(error), t.logs, t.progress,
        t.status, t.notified, int(t.refund_attempt), outcome, t.notify_error,
    )  # fmt: skip


_COMPLETED = JobState.COMPLETED
_RECORDED = frozenset({JobState.FAILED, JobState.CANCELLED, JobState.QUEUED})
"""States whose transition passes its attempt's outcome: a failed or cancelled job's
`last_outcome`, a retried attempt's history row (a completed job's last attempt completed)."""
