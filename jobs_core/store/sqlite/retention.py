"""Retention on the live store: summaries, dependency edges and counters of removed jobs."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from jobs_core.records import JobState

from . import dependencies

DELETE_SUMMARIES = """
DELETE FROM job_summary WHERE id IN (
    SELECT s.id FROM job_summary s INDEXED BY ix_summary_completed
    WHERE s.completed_date < :before AND ({test})
      AND s.id < max(coalesce((SELECT max(id) FROM background_job), 0),
                     (SELECT max(id) FROM job_summary))
    LIMIT :step)
RETURNING id, state
"""
"""The newest job stays (it is never purged): ids are allocated from the largest one, so
its id must never be used again. Only archived jobs have a summary row: a job still in the
queue (its month could not be written yet) is not touched."""


def delete_summaries(
    conn: sqlite3.Connection, *, limits: dict[JobState, int], step: int
) -> Counter[JobState]:
    """Remove up to `step` summaries of jobs in a limited state that finished before its
    limit, their dependency edges, and take them off `job_count`."""
    if not limits:
        return Counter()
    test = " OR ".join(
        f"(s.state = :s{i} AND s.completed_date < :t{i})" for i in range(len(limits))
    )
    params: dict[str, object] = {"before": max(limits.values()), "step": step}
    for i, (state, limit) in enumerate(limits.items()):
        params[f"s{i}"], params[f"t{i}"] = state.value, limit
    rows = conn.execute(DELETE_SUMMARIES.format(test=test), params).fetchall()
    if not rows:
        return Counter()
    ids = json.dumps([row[0] for row in rows])
    dependencies.forget(conn, ids)
    removed = Counter(JobState(row[1]) for row in rows)
    for state, n in removed.items():
        conn.execute("UPDATE job_count SET n = max(0, n - ?) WHERE state = ?", (n, state.value))
    return removed


def claim(conn: sqlite3.Connection, *, name: str, now: int, every_ms: int) -> bool:
    """Compare-and-set on `job_maintenance`: true for one caller per `every_ms`."""
    cursor = conn.execute(
        "INSERT INTO job_maintenance (name, next_at) VALUES (:name, :next) "
        "ON CONFLICT (name) DO UPDATE SET next_at = :next WHERE next_at <= :now",
        {"name": name, "next": now + every_ms, "now": now},
    )
    return cursor.rowcount == 1
