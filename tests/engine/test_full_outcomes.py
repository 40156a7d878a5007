"""At `Durability.FULL` an engine on SQLite writes outcomes apart from its claims, in the
background of its dispatch loop, lingering to group them (`Store.outcomes_behind`): an
outcome's commit waits for an fsync and a claim's does not, so a job fed at a time no
longer pays an fsync with each claim. Jobs start while earlier outcomes are still being
written; a limited queue's and a key's next job, held back until the outcome before it is
written (SQLite counts the ended job as started until then), start after that write."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from jobs_core import Durability, EnqueueRequest, JobContext, JobState
from tests.conftest import FAST, MakeJobs
from tests.outcome_writes import hold_writes, second_runs_while_first_is_written, written

FULL = replace(FAST, durability=Durability.FULL)


async def test_jobs_start_while_earlier_outcomes_are_still_being_written(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(settings=FULL)
    assert jobs.store.outcomes_behind
    # At NORMAL the outcome goes with the next claim (`finish_and_claim`), never alone.
    await second_runs_while_first_is_written(jobs)
    assert (await jobs.counts())[JobState.COMPLETED] == 2


async def test_normal_writes_outcomes_with_the_claim(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    assert not jobs.store.outcomes_behind
    writing, release = hold_writes(jobs)
    release.set()

    @jobs.command
    async def c(req: dict[str, int]) -> None:
        pass

    await jobs.start()
    await jobs.enqueue_many([EnqueueRequest(command="c", request={"n": n}) for n in range(3)])
    await written(jobs, 3)
    await jobs.enqueue("c", {"n": 3})
    await written(jobs, 4)
    assert not writing.is_set()


async def test_a_limited_queue_and_a_key_run_each_job_after_the_last_ones_write(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(settings=FULL)
    running: dict[str, int] = {"one": 0, "user:1": 0}
    most: dict[str, int] = {"one": 0, "user:1": 0}
    order: dict[str, list[int]] = {"one": [], "user:1": []}

    async def run(group: str, ctx: JobContext) -> None:
        running[group] += 1
        most[group] = max(most[group], running[group])
        order[group].append(ctx.job.id)
        await asyncio.sleep(0)
        running[group] -= 1

    @jobs.command(queue="one")
    async def limited(ctx: JobContext) -> None:
        await run("one", ctx)

    @jobs.command(concurrency_key=lambda req: f"user:{req['user']}")
    async def keyed(req: dict[str, int], ctx: JobContext) -> None:
        await run("user:1", ctx)

    await jobs.set_queue("one", concurrency=1)
    await jobs.start()
    limited_refs = await jobs.enqueue_many([EnqueueRequest(command="limited") for _ in range(8)])
    keyed_refs = await jobs.enqueue_many(
        [EnqueueRequest(command="keyed", request={"user": 1}) for _ in range(8)]
    )
    # Each next job waits for the write of the one before it: a claim that came back short
    # beside unwritten outcomes looks again after their write, or these never all run.
    await written(jobs, 16)
    assert order["one"] == [r.id for r in limited_refs]
    assert sorted(order["user:1"]) == sorted(r.id for r in keyed_refs)
    assert most == {"one": 1, "user:1": 1}
