"""What jobs ending do to the jobs and batches around them, inside the transaction that ends
them: dependents cancelled or released, batch counters, finished batches and their
callbacks, and the dependents of those batches in turn."""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from jobs_core.batch_rules import FinishedBatch, follow_ups
from jobs_core.records import JobState
from jobs_core.store.protocol import NewJob

from . import batches, dependencies


@dataclass(slots=True)
class Settled:
    """What `settle` did beyond the jobs that ended."""

    cancelled: list[int] = field(default_factory=list)
    """Dependents cancelled because a parent did not complete."""
    cancelled_queues: list[str] = field(default_factory=list)
    """The queue of each of `cancelled`, in the same order."""
    released: list[int] = field(default_factory=list)
    """Dependents that may start now."""
    follow_ups: list[NewJob] = field(default_factory=list)
    """Callbacks of the batches that finished, for the caller to insert (and record with
    `batches.record_callbacks`)."""
    finished_batches: list[str] = field(default_factory=list)


BatchDeltas = defaultdict[str, Counter[JobState]]


def new_deltas() -> BatchDeltas:
    return defaultdict(Counter)


def settle(
    conn: sqlite3.Connection,
    completed: list[int],
    stopped: list[int],
    deltas: BatchDeltas,
    now: int,
    finished: list[FinishedBatch] | None = None,
) -> Settled:
    """Settle jobs that ended (`completed`, and `stopped`: failed or cancelled; a batch as
    minus its number) and the batch counts `deltas` of terminal jobs, until nothing more
    changes: a finished batch ends for its own dependents in turn."""
    done = Settled()
    ended, stop = list(completed) + list(stopped), list(stopped)
    pending = list(finished or [])
    while True:
        cascade = dependencies.cancel_dependents(conn, stop, now)
        for job_id, batch_id, queue in cascade:
            done.cancelled.append(job_id)
            done.cancelled_queues.append(queue)
            if batch_id is not None:
                deltas[batch_id][JobState.CANCELLED] += 1
        done.released += dependencies.release(conn, ended + [row[0] for row in cascade])
        if deltas:
            pending += batches.ended(conn, deltas, now)
            deltas.clear()
        if not pending:
            return done
        ended, stop = [], []
        for batch in pending:
            done.follow_ups += follow_ups(batch)
            done.finished_batches.append(batch.counts.batch_id)
            ended.append(-batch.number)
            if batch.counts.failed or batch.counts.cancelled:
                stop.append(-batch.number)
        pending = []
