"""Per-minute tallies of finished jobs by command, state and duration bucket (`command_minute`):
written in the finishing transaction, read for per-command figures and charts."""

from __future__ import annotations

import json
import sqlite3

from jobs_core.figures import DURATION_BOUNDS_MS, NO_DURATION
from jobs_core.records import JobState, ThroughputBucket
from jobs_core.store.protocol import DurationTally
from jobs_core.store.rows import throughput_buckets

_BUCKET = (
    f"CASE WHEN duration_ms IS NULL THEN {NO_DURATION} "
    + " ".join(f"WHEN duration_ms < {bound} THEN {i}" for i, bound in enumerate(DURATION_BOUNDS_MS))
    + f" ELSE {len(DURATION_BOUNDS_MS)} END"
)

RECORD = f"""
INSERT INTO command_minute (minute, command, state, bucket, n, total_ms)
SELECT :minute, command, state, {_BUCKET}, count(*), coalesce(sum(duration_ms), 0)
FROM background_job
WHERE id IN (SELECT value FROM json_each(:ids))
  AND state IN ('completed', 'failed', 'cancelled')
GROUP BY command, state, 4
ON CONFLICT (minute, command, state, bucket)
DO UPDATE SET n = n + excluded.n, total_ms = total_ms + excluded.total_ms
"""
"""One set-based statement per finishing transaction, whatever the number of jobs."""

READ = """
SELECT command, state, bucket, sum(n), sum(total_ms) FROM command_minute
WHERE minute >= ? AND minute <= ? GROUP BY command, state, bucket
"""

THROUGHPUT = """
SELECT minute, state, sum(n) FROM command_minute
WHERE minute >= ? AND minute <= ? AND command = ? GROUP BY minute, state ORDER BY minute
"""


def record(conn: sqlite3.Connection, job_ids: list[int], now: int) -> None:
    """Tally the jobs of `job_ids` that just reached a terminal state (caller's transaction)."""
    if job_ids:
        conn.execute(RECORD, {"minute": now - now % 60_000, "ids": json.dumps(job_ids)})


def read(conn: sqlite3.Connection, since: int, now: int) -> list[DurationTally]:
    rows = conn.execute(READ, (since - since % 60_000, now)).fetchall()
    return [
        DurationTally(command=r[0], state=JobState(r[1]), bucket=r[2], n=r[3], total_ms=r[4])
        for r in rows
    ]


def throughput(
    conn: sqlite3.Connection, command: str, since: int, now: int
) -> list[ThroughputBucket]:
    return throughput_buckets(conn.execute(THROUGHPUT, (since - since % 60_000, now, command)))


def prune(conn: sqlite3.Connection, before: int) -> None:
    """Forget tallies of minutes before `before` (a range of the primary key)."""
    conn.execute("DELETE FROM command_minute WHERE minute < ?", (before,))
