"""Deleting jobs takes them off what points at them: their batch's counts and failed ids, and
the dependency edges of jobs with several parents (no row is left that nothing uses)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg

from jobs_core import BackgroundJobs, BatchCompleted, JobState, ManualClock
from jobs_core.store.url import is_store_url, parse_store_url
from tests.conftest import MakeJobs


async def count_rows(location: str, table: str) -> int:
    """Rows of a live-store table, read around the store (the API never shows these)."""
    if not is_store_url(location):
        with sqlite3.connect(Path(location) / "jobs.db") as conn:
            found = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        conn.close()
        return found
    url = parse_store_url(location)
    conn = await asyncpg.connect(url.dsn)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {url.schema}.{table}"))
    finally:
        await conn.close()


def app(make_jobs: MakeJobs, clock: ManualClock, seen: list[BatchCompleted]) -> BackgroundJobs:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def resize(req: dict[str, int]) -> int:
        if req["n"] < 0:
            raise ValueError(f"cannot resize {req['n']}")
        return req["n"] * 2

    @jobs.command
    async def report(req: BatchCompleted) -> None:
        seen.append(req)

    return jobs


async def test_deleted_jobs_leave_their_batch_counts_and_failed_ids(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    seen: list[BatchCompleted] = []
    jobs = app(make_jobs, clock, seen)
    async with jobs:
        batch = await jobs.create_batch(on_complete="report")
        ids = [
            (await jobs.enqueue("resize", {"n": n}, batch_id=batch.id, retry_limit=0)).id
            for n in (1, -2, 3, -4)
        ]
        await jobs.run_until_idle()
        result = await jobs.bulk_delete(ids[:2])
        await jobs.delete(ids[3])
        status = await batch.status()
        await batch.close()
        await jobs.run_until_idle()
    assert result.done == 2
    assert (status.total, status.done, status.failed_ids) == (1, 1, [])
    assert {state: n for state, n in status.counts.items() if n} == {JobState.COMPLETED: 1}
    assert [(r.total, r.completed, r.failed, r.failed_ids) for r in seen] == [(1, 1, 0, [])]


async def test_deleted_jobs_leave_no_dependency_edges(
    make_jobs: MakeJobs, clock: ManualClock, store_dir: str
) -> None:
    jobs = app(make_jobs, clock, [])
    async with jobs:
        a = await jobs.enqueue("resize", {"n": 1})
        b = await jobs.enqueue("resize", {"n": 2})
        child = await jobs.enqueue("resize", {"n": 3}, depends_on=[a.id, b.id])
        other = await jobs.enqueue("resize", {"n": 4}, depends_on=[a.id, b.id])
        await jobs.run_until_idle()
        assert await count_rows(store_dir, "job_dependency") == 4
        await jobs.bulk_delete([a.id, child.id])
        left = await count_rows(store_dir, "job_dependency")
        dependents = [d.id for d in await jobs.dependents(b.id)]
    # Only `other`'s edge to b stays: a's edges went with it, and child's with child.
    assert left == 1
    assert dependents == [other.id]
