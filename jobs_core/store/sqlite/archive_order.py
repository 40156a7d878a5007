"""Which finished jobs an engine's archive pass takes on SQLite: those below the first job
still active (queued, started or executed), so that passes archive in id order.

A job's id is its place in every table the archive writes: the month's `completed_job` and
`failed_job` (and their indexes by command and state), the live `job_summary`, and the live
rows it deletes. Jobs archived in id order append to those B-trees, a page filled at a time.
With priorities, claims do not run jobs in id order (a later batch's high priority before an
earlier one's low), and a pass that takes every finished job leaves gaps that later passes
fill in the middle of each tree: a leaf read, split and written again at each gap. The mixed
workload archived every 20 claims cost 12.6 µs a job against 10.6 archived at the end
(`bench/ab_store_cpu.py --mixed`, bench/README.md "issue 10, eighth pass").

Holding a finished job back is never wrong (it stays readable in the live store), nor is
archiving one out of order (it only costs more), so the bound is a cheap estimate from the
indexes (`FIRST_ACTIVE`). Jobs finished above it wait at most `ORDER_WAIT_MS` (a job that
runs for hours, or a paused queue's, must not hold the archive back): a pass after that
takes every finished job, and passes do so until one takes fewer than its limit.
"""

from __future__ import annotations

import sqlite3

from .flow_claim import READY, READY_LEVELS

ORDER_WAIT_MS = 1000
"""Longest an engine's archive passes keep finished jobs back for an older job still active
(then a pass takes them all, out of order)."""

NO_BOUND = 1 << 62
"""A bound above every id: the pass takes every finished job."""

FINISHED = "state <> 'queued' AND state IN ('completed', 'failed', 'cancelled')"
"""Finished, in the terms `ix_job_state` (partial: `state <> 'queued'`) is chosen by."""

FIRST_ACTIVE = f"""
WITH RECURSIVE {READY_LEVELS}
SELECT min(
    coalesce((SELECT min(id) FROM background_job INDEXED BY ix_job_state
              WHERE state <> 'queued' AND state = 'started'), :none),
    coalesce((SELECT min(id) FROM background_job INDEXED BY ix_job_state
              WHERE state <> 'queued' AND state = 'executed'), :none),
    coalesce((SELECT min((SELECT id FROM background_job INDEXED BY ix_job_ready
                          WHERE {READY} AND worker = levels.w AND queue = levels.q
                            AND command = levels.c AND priority = levels.p
                            AND run_after <= :now
                          ORDER BY run_after, id LIMIT 1))
              FROM levels WHERE p IS NOT NULL), :none))
"""
"""The first job still active, as index probes tell it without reading rows: the first
started or executed job, and the first due job of each worker, queue, command and priority
in the ready index (one probe each: `flow_claim.READY_LEVELS`, as `claims.NEXT_DUE`).
Reading the live rows' states in id order instead cost the default queue 0.37 µs a job:
every row read once more, from pages the loop's commits had taken out of the archive
connection's cache. An estimate, which is all the order needs: a job due later than a
younger one of its group (a retry) is not seen, nor is a job not ready (waiting on a
parent, parked by its key) or not due, and none of those holds the archive back."""

WAITING = f"""
SELECT 1 FROM background_job INDEXED BY ix_job_state WHERE {FINISHED} AND id >= :bound LIMIT 1
"""
"""Whether a finished job waits above the bound (one probe per finished state)."""


class ArchiveOrder:
    """The bound of an engine's archive passes, and since when jobs wait above it."""

    def __init__(self) -> None:
        self._waiting_since: int | None = None

    def bound(self, conn: sqlite3.Connection, now: int) -> int:
        """The id below which this pass takes finished jobs (`NO_BOUND`: all of them)."""
        bound: int = conn.execute(FIRST_ACTIVE, {"now": now, "none": NO_BOUND}).fetchone()[0]
        if bound == NO_BOUND or conn.execute(WAITING, {"bound": bound}).fetchone() is None:
            self._waiting_since = None
            return bound
        if self._waiting_since is None:
            self._waiting_since = now
        return bound if now - self._waiting_since < ORDER_WAIT_MS else NO_BOUND

    def copied(self, bound: int, count: int, limit: int) -> None:
        """A pass with `bound` copied `count` jobs: one that took every finished job and
        found fewer than `limit` has let the waiting ones go."""
        if bound == NO_BOUND and count < limit:
            self._waiting_since = None
