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
archiving one out of order (it only costs more), so the bound is a cheap estimate: the first
active job among the `limit` oldest live rows. Jobs finished above it wait at most
`ORDER_WAIT_MS` (a job that runs for hours, or is due tomorrow, must not hold the archive):
a pass after that takes every finished job, and passes do so until one takes fewer than its
limit.
"""

from __future__ import annotations

import sqlite3

ORDER_WAIT_MS = 1000
"""Longest an engine's archive passes keep finished jobs back for an older job still active
(then a pass takes them all, out of order)."""

NO_BOUND = 1 << 62
"""A bound above every id: the pass takes every finished job."""

FIRST_ACTIVE = """
SELECT coalesce(
    (SELECT id FROM (SELECT id, state FROM background_job ORDER BY id LIMIT :limit)
     WHERE state NOT IN ('completed', 'failed', 'cancelled') LIMIT 1),
    (SELECT id FROM background_job ORDER BY id LIMIT 1 OFFSET :limit),
    :none)
"""
"""The id below which every live job is finished, as far as the `:limit` oldest live rows
tell (the scan stops at the first active one): the first active job's id, else the id after
those rows, else (fewer rows) no bound."""

WAITING = """
SELECT 1 FROM background_job INDEXED BY ix_job_state
WHERE state <> 'queued' AND state IN ('completed', 'failed', 'cancelled') AND id >= :bound
LIMIT 1
"""
"""Whether a finished job waits above the bound (one probe per finished state)."""


class ArchiveOrder:
    """The bound of an engine's archive passes, and since when jobs wait above it."""

    def __init__(self) -> None:
        self._waiting_since: int | None = None

    def bound(self, conn: sqlite3.Connection, limit: int, now: int) -> int:
        """The id below which this pass takes finished jobs (`NO_BOUND`: all of them)."""
        bound: int = conn.execute(FIRST_ACTIVE, {"limit": limit, "none": NO_BOUND}).fetchone()[0]
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
