"""Outcomes on PostgreSQL: a batch of transitions, their dependents and counters in one call
of the schema's `finish_jobs` (see finish_sql.py), then the follow-up jobs (callbacks,
replies) it leads to, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from jobs_core.records import TERMINAL_STATES
from jobs_core.store.protocol import FinishResult, NewJob, Transition

from .connection import Conn
from .finish_sql import FINISH, TRANSITION_COLUMNS
from .queue import insert_jobs
from .rows import columns, error_to_json

_UNSET: list[Any] = [
    {"logs": "", "notified": False, "refund": 0}.get(c.split()[0]) for c in TRANSITION_COLUMNS
]
"""Each transition column's value when a transition leaves it alone: a column no transition
of the batch sets is passed as NULL rather than as an array of defaults (an array still
costs its encoding per element)."""


async def finish(
    conn: Conn, transitions: list[Transition], new_jobs: list[NewJob], now: int,
    max_log: int, channel: str,
) -> FinishResult:  # fmt: skip
    """Apply transitions, release or cancel dependents, count, insert follow-up jobs.

    One round trip without follow-ups (then it needs no transaction of its own). The
    partitions of the month of `now` must exist (finished jobs go there); a missing one
    raises MissingPartitionError (see `connection.translate`).
    """
    values = columns([_transition_values(t, now) for t in transitions], len(TRANSITION_COLUMNS))
    size = len(transitions)
    arrays = [None if i > 1 and c.count(_UNSET[i]) == size else c for i, c in enumerate(values)]
    row = await conn.fetchrow(FINISH, max_log, now, channel, *arrays)
    assert row is not None  # the function returns one row
    applied_ids, released, cancelled = row
    applied = set(applied_ids)
    # A follow-up of a transition that did not apply was already written (a retried finish
    # whose first commit went through) or belongs to a job this engine no longer owns.
    skipped = {t.job_id for t in transitions} - applied
    kept = [j for j in new_jobs if j.parent_id not in skipped]
    new_ids = await insert_jobs(conn, kept, now, channel, follow_ups=True) if kept else []
    return FinishResult(
        applied=[t.job_id for t in transitions if t.job_id in applied],
        cancelled_dependents=list(cancelled),
        released_dependents=list(released),
        new_job_ids=new_ids,
    )


def _transition_values(t: Transition, now: int) -> tuple[Any, ...]:
    return (
        t.job_id, t.state.value, t.owner_guard, t.run_after,
        now if t.state in TERMINAL_STATES else None, t.duration_ms, t.response_type,
        t.response_body, error_to_json(t.error), t.logs, t.progress, t.status, t.notified,
        int(t.refund_attempt),
    )  # fmt: skip
