"""SQL counting jobs that ended per command (`command_minute`, with duration buckets) and per
queue (`queue_minute`), shared by the schema's `finish_jobs` and the statements that end
jobs outside it (`graph.py`). Rows are upserted in key order, the same in every transaction:
engines finishing at once never deadlock on them."""

from __future__ import annotations

from jobs_core.figures import DURATION_BOUNDS_MS, NO_DURATION

BUCKET = (
    f"CASE WHEN duration_ms IS NULL THEN {NO_DURATION} "
    + " ".join(f"WHEN duration_ms < {bound} THEN {i}" for i, bound in enumerate(DURATION_BOUNDS_MS))
    + f" ELSE {len(DURATION_BOUNDS_MS)} END"
)
"""The duration bucket (`jobs_core.figures`) of a job row's `duration_ms`."""


def command_tally(source: str, now: str) -> str:
    """A CTE body adding the jobs of `source` (rows with command, state, duration_ms) to the
    per-minute tallies of the minute of `now`."""
    return f"""
        INSERT INTO command_minute AS m (minute, command, state, bucket, n, total_ms)
        SELECT {now} - {now} % 60000, command, state, {BUCKET}, count(*),
            coalesce(sum(duration_ms), 0)
        FROM {source} GROUP BY 2, 3, 4 ORDER BY 2, 3, 4
        ON CONFLICT (minute, command, state, bucket)
        DO UPDATE SET n = m.n + excluded.n, total_ms = m.total_ms + excluded.total_ms"""


def queue_tally(source: str, now: str) -> str:
    """A CTE body adding the jobs of `source` (rows with queue, state) to the finishes per
    queue of the minute of `now`."""
    return f"""
        INSERT INTO queue_minute AS q (queue, minute, state, n)
        SELECT queue, {now} - {now} % 60000, state, count(*) FROM {source}
        GROUP BY 1, 3 ORDER BY 1, 3
        ON CONFLICT (queue, minute, state) DO UPDATE SET n = q.n + excluded.n"""
