"""Chaos: engines SIGKILLed and replaced every 0.7 s while 3,000 jobs flow, nothing lost,
nothing completed twice, no lock errors; and the same for a scheduled task's slots. Both
run on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest

from jobs_core import BackgroundJobs, JobState, Schedule
from tests.chaos.harness import (
    CREATOR,
    START_SECS,
    EnginePool,
    archived,
    archived_rows,
    live_finished,
    missed_runs_logged,
    produce,
    producer,
    slot_problems,
)
from tests.conftest import create_store, wait_until

KILL_EVERY_SECS = 0.7
TOTAL_JOBS = 3000
INTERVAL_SECS = 0.1
SCHEDULER_KILLS = 8
PATIENCE_SECS = 120
"""Deadline of the waits, none of them a speed claim: on a loaded 2-core machine an engine
takes seconds to start, and a kill always spares one running engine (`kill_and_replace`)."""


@pytest.fixture
async def chaos(store_dir: str, tmp_path: Path) -> AsyncIterator[tuple[BackgroundJobs, EnginePool]]:
    """A producer facade and a pool of three running `jobs worker` engines on one store."""
    create_store(store_dir)  # before the engines race to
    jobs = producer(store_dir)
    pool = EnginePool(store_dir, tmp_path)
    try:
        for _ in range(3):
            pool.start()
        await wait_until(pool.all_ready, timeout=START_SECS, what="three engines")
        yield jobs, pool
    finally:
        pool.kill_all()
        await jobs.close()


async def test_chaos_3000_jobs_complete_exactly_once_while_engines_are_killed(
    chaos: tuple[BackgroundJobs, EnginePool],
) -> None:
    jobs, pool = chaos
    stop = asyncio.Event()
    killer = asyncio.create_task(pool.keep_killing(KILL_EVERY_SECS, stop))
    created: set[int] = set()  # the jobs enqueued with a creator: it must reach the archive
    try:
        ids = await produce(jobs, TOTAL_JOBS, created=created)

        async def all_completed() -> bool:
            return (await jobs.counts())[JobState.COMPLETED] >= TOTAL_JOBS

        await wait_until(all_completed, timeout=PATIENCE_SECS, what=f"{TOTAL_JOBS} jobs completed")
    finally:
        stop.set()
        await killer
    await wait_until(
        lambda: _none_left(live_finished(pool.directory)),
        timeout=PATIENCE_SECS,
        what="every job archived",
    )
    pool.stop_all()

    counts = await jobs.counts()
    completed = await archived_rows(pool.directory, "completed_job")
    executions = pool.executions()
    reexecutions = sum(executions.values()) - TOTAL_JOBS
    assert len(set(ids)) == TOTAL_JOBS
    assert set(completed) == set(ids) and max(completed.values()) == 1
    assert await archived_rows(pool.directory, "failed_job") == {}
    assert {s: n for s, n in counts.items() if n} == {JobState.COMPLETED: TOTAL_JOBS}
    assert set(executions) == set(ids), "a job never ran, or a job ran that was not enqueued"
    rows = await archived(pool.directory, "completed_job")
    assert created and {r.id for r in rows if r.created_by == CREATOR} == created
    assert pool.kills >= 3, "too few kills for the run to mean anything"
    assert 0 <= reexecutions <= pool.kills * pool.concurrency
    assert pool.lock_errors() == []
    assert "Traceback" not in pool.output()


async def test_chaos_scheduled_slots_each_run_once_and_none_is_skipped(
    chaos: tuple[BackgroundJobs, EnginePool],
) -> None:
    jobs, pool = chaos
    interval_ms = round(INTERVAL_SECS * 1000)
    # Every slot must run once, even while a killed engine's run waits to be recovered.
    await jobs.recurring(
        "chaos", Schedule.interval(INTERVAL_SECS), "tick", missed="catch_up", overlap="allow"
    )
    stop = asyncio.Event()
    killer = asyncio.create_task(pool.keep_killing(KILL_EVERY_SECS, stop))
    try:
        await wait_until(lambda: pool.kills >= SCHEDULER_KILLS, timeout=PATIENCE_SECS, what="kills")
    finally:
        stop.set()
        await killer
    killed_until = jobs.clock.now_ms()

    async def ran_after_the_kills() -> bool:
        return ((await jobs.scheduled_task("chaos")).last_run_at or 0) > killed_until

    await wait_until(
        ran_after_the_kills, timeout=PATIENCE_SECS, what="a slot run after the last kill"
    )
    await jobs.pause_task("chaos")

    async def settled() -> bool:
        counts = await jobs.counts()
        active = sum(counts[s] for s in (JobState.QUEUED, JobState.STARTED, JobState.EXECUTED))
        return active == 0 and await live_finished(pool.directory) == 0

    await wait_until(settled, timeout=PATIENCE_SECS, what="every run finished and archived")
    pool.stop_all()

    runs = await archived(pool.directory, "completed_job")
    assert await archived(pool.directory, "failed_job") == []
    assert len(runs) >= SCHEDULER_KILLS  # it kept running through the kills
    # An outage longer than max_catch_up intervals drops the oldest slots by design (and
    # logs them); every slot inside the catch-up window runs, and none runs twice.
    problems = slot_problems(runs, interval_ms)
    assert (problems.twice, problems.skipped) == (0, 0), (
        f"a slot ran twice or was skipped: {problems}"
    )
    assert missed_runs_logged(pool.output()) == problems.dropped
    executions = pool.executions()
    assert set(executions) == {r.id for r in runs}
    assert sum(executions.values()) - len(runs) <= pool.kills * pool.concurrency
    assert pool.lock_errors() == []
    assert "Traceback" not in pool.output()


async def _none_left(count: Awaitable[int]) -> bool:
    return await count == 0
