"""Per-minute tallies of finished jobs by command, state and duration bucket
(`command_minute`): written by `finish_jobs` in the finishing transaction, read for
per-command figures and charts."""

from __future__ import annotations

from jobs_core.records import JobState, ThroughputBucket
from jobs_core.store.protocol import DurationTally
from jobs_core.store.rows import throughput_buckets

from .connection import Conn

READ = """
SELECT command, state, bucket, sum(n)::bigint, sum(total_ms)::bigint FROM command_minute
WHERE minute >= $1 AND minute <= $2 GROUP BY command, state, bucket
"""

THROUGHPUT = """
SELECT minute, state, sum(n)::bigint FROM command_minute
WHERE minute >= $1 AND minute <= $2 AND command = $3 GROUP BY minute, state ORDER BY minute
"""

PRUNE = "DELETE FROM command_minute WHERE minute < $1"


async def read(conn: Conn, since: int, now: int) -> list[DurationTally]:
    rows = await conn.fetch(READ, since - since % 60_000, now)
    return [
        DurationTally(command=r[0], state=JobState(r[1]), bucket=r[2], n=r[3], total_ms=r[4])
        for r in rows
    ]


async def throughput(conn: Conn, command: str, since: int, now: int) -> list[ThroughputBucket]:
    rows = await conn.fetch(THROUGHPUT, since - since % 60_000, now, command)
    return throughput_buckets((r[0], r[1], r[2]) for r in rows)


async def prune(conn: Conn, before: int) -> None:
    """Forget tallies of minutes before `before` (a range of the primary key)."""
    await conn.execute(PRUNE, before)
