"""The engine on PostgreSQL writes outcomes in the background of its dispatch loop
(`Store.concurrent_writes`): a write under way never holds the next claim back, nor a
limited queue's room (the claim leaves the ended jobs out of its count,
test_claim_finished.py)."""

from __future__ import annotations

import asyncio

from jobs_core import EnqueueRequest, JobContext
from tests.conftest import MakeJobs, wait_until
from tests.outcome_writes import hold_writes, second_runs_while_first_is_written, written


async def test_jobs_start_while_the_outcomes_before_them_are_still_being_written(
    make_jobs: MakeJobs,
) -> None:
    # The dispatch loop's upkeep once waited for the write under way (when it had no
    # activity to write): claims and writes then took turns instead of overlapping.
    await second_runs_while_first_is_written(make_jobs())


async def test_a_limited_queues_next_job_starts_while_the_outcome_before_it_is_written(
    make_jobs: MakeJobs,
) -> None:
    """Concurrency 1: the second job starts once the first one's handler ended, its outcome
    still being written; the two handlers never overlap."""
    jobs = make_jobs()
    running: list[int] = []
    most = [0]
    ran: list[int] = []

    @jobs.command(queue="one")
    async def c(ctx: JobContext) -> None:
        running.append(ctx.job.id)
        most[0] = max(most[0], len(running))
        await asyncio.sleep(0.01)
        running.remove(ctx.job.id)
        ran.append(ctx.job.id)

    await jobs.set_queue("one", concurrency=1)
    writing, release = hold_writes(jobs)
    await jobs.start()
    try:
        refs = await jobs.enqueue_many([EnqueueRequest(command="c") for _ in range(2)])
        await wait_until(writing.is_set, what="the first job's outcome being written")
        await wait_until(lambda: len(ran) == 2, timeout=5.0, what="the second job to run")
        assert not release.is_set()
    finally:
        release.set()
    await written(jobs, 2)
    assert ran == [r.id for r in refs] and most[0] == 1
