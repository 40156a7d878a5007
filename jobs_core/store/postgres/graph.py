"""What jobs ending do to the jobs and batches around them on PostgreSQL, inside the
transaction that ends them: dependents cancelled (transitively, under the `completed`
policy) or moved on to their next pending parent, batch counters, finished batches and
their callbacks, and the dependents of those batches in turn. The common part (jobs that
ended, in no batch) runs in the schema's `finish_jobs` function with the same SQL
(dependents_sql.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from jobs_core.batch_rules import FinishedBatch, follow_ups
from jobs_core.records import JobState
from jobs_core.store.protocol import NewJob

from . import batches
from .connection import Conn
from .dependents_sql import RELEASE_SET, cancel_dependents_sql
from .tally_sql import command_tally, queue_tally

CANCEL_DEPENDENTS = f"""{cancel_dependents_sql("$1::bigint[]", "$2")}, tallied AS (
    {command_tally("cancelled", "$2")}
), queued AS ({queue_tally("cancelled", "$2")}
)
SELECT id, batch_id FROM cancelled
"""
"""Cancel, transitively, the queued jobs of policy `completed` that depend on any of `$1`
(jobs, or batches as minus their number), tallied per command and queue; they stay in the
live table until the archive pass moves them (rare)."""

RELEASE = f"""
UPDATE background_job AS b SET {RELEASE_SET}
WHERE b.waiting_on IS NOT NULL AND b.waiting_on = ANY($1::bigint[]) AND b.state = 'queued'
RETURNING b.id, b.waiting_on
"""


BatchDeltas = defaultdict[str, Counter[JobState]]


def new_deltas() -> BatchDeltas:
    return defaultdict(Counter)


@dataclass(slots=True)
class Settled:
    """What settling did beyond the jobs that ended."""

    cancelled: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    follow_ups: list[NewJob] = field(default_factory=list)
    finished_batches: list[str] = field(default_factory=list)


async def cancel_dependents(
    conn: Conn, stopped: list[int], now: int
) -> list[tuple[int, str | None]]:
    """Cancel the dependents that needed one of `stopped` to complete; (id, batch_id) each."""
    if not stopped:
        return []
    return [(r[0], r[1]) for r in await conn.fetch(CANCEL_DEPENDENTS, stopped, now)]


async def release(conn: Conn, ended: list[int]) -> list[int]:
    """Jobs waiting on one of `ended` go on to their next pending parent or are released;
    the released ones."""
    if not ended:
        return []
    return [r[0] for r in await conn.fetch(RELEASE, ended) if r[1] is None]


async def settle_batches(
    conn: Conn, deltas: BatchDeltas, now: int, finished: list[FinishedBatch] | None = None
) -> Settled:
    """Count terminal jobs on their batches; a batch that finishes enqueues its callbacks
    (returned as `follow_ups`) and ends for its own dependents, which may end more jobs of
    other batches, until nothing changes."""
    done = Settled()
    pending = list(finished or [])
    while True:
        if deltas:
            pending += await batches.ended(conn, deltas, now)
            deltas.clear()
        if not pending:
            return done
        ended = [-b.number for b in pending]
        stop = [-b.number for b in pending if b.counts.failed or b.counts.cancelled]
        for batch in pending:
            done.follow_ups += follow_ups(batch)
            done.finished_batches.append(batch.counts.batch_id)
        pending = []
        cascade = await cancel_dependents(conn, stop, now)
        for job_id, batch_id in cascade:
            done.cancelled.append(job_id)
            if batch_id is not None:
                deltas[batch_id][JobState.CANCELLED] += 1
        done.released += await release(conn, ended + [job_id for job_id, _ in cascade])
