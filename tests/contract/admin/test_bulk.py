"""Bulk cancel, requeue and delete through the admin API, by ids and by query, in batches,
while an engine runs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jobs_core import (
    BackgroundJobs,
    EnqueueRequest,
    InvalidStateError,
    JobContext,
    JobNotFoundError,
    JobState,
)
from tests.conftest import MakeJobs, wait_until
from tests.contract.admin.conftest import NOVEMBER


async def states(jobs: BackgroundJobs, ids: list[int]) -> list[JobState]:
    return [(await jobs.get_job(i)).state for i in ids]


async def test_bulk_requeue_by_query_across_months_reports_progress(
    history: BackgroundJobs,
) -> None:
    seen: list[tuple[int, int]] = []
    before = (await history.counts())[JobState.FAILED]
    result = await history.bulk_requeue(
        "command:import_orders state:failed",
        batch_size=2,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert (result.matched, result.done, result.skipped) == (3, 3, 0)
    assert seen == [(0, 3), (2, 3), (3, 3)]
    assert await states(history, [11, 2, 1]) == [JobState.QUEUED] * 3
    assert (await history.counts())[JobState.FAILED] == before - 3
    assert (await history.list_failed("2026-10")).items == []  # gone from the month file
    job = (await history.get_job(2)).job
    assert job is not None and job.attempts == 0 and job.error is None


async def test_bulk_requeue_skips_jobs_it_does_not_apply_to(history: BackgroundJobs) -> None:
    result = await history.bulk_requeue([1, 3, 14, 999])
    assert (result.matched, result.done, result.skipped) == (4, 1, 3)
    assert await states(history, [1, 3, 14]) == [JobState.QUEUED, JobState.COMPLETED,
                                                 JobState.QUEUED]  # fmt: skip


async def test_bulk_requeue_brings_back_dependents_the_failure_cancelled(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def step(req: dict[str, Any]) -> None:
        if req.get("fail"):
            raise RuntimeError("step failed")

    await jobs.start()
    first = await jobs.enqueue("step", {"fail": True}, retry_limit=0)
    second = await jobs.enqueue("step", {}, depends_on=first.id)
    await jobs.run_until_idle()
    assert await states(jobs, [first.id, second.id]) == [JobState.FAILED, JobState.CANCELLED]
    result = await jobs.bulk_requeue("state:failed")
    assert (result.matched, result.done) == (1, 2)
    assert await jobs.blocked_by([second.id]) == {second.id: first.id}


async def test_bulk_cancel_cancels_queued_jobs_and_stops_running_ones(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs()
    started = asyncio.Event()

    @jobs.command
    async def hang(req: dict[str, Any], ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(3600)

    @jobs.command
    async def later(req: dict[str, Any]) -> None:
        return None

    async with jobs:
        running = await jobs.enqueue("hang", {})
        await asyncio.wait_for(started.wait(), 10)
        queued = await jobs.enqueue_many(
            [EnqueueRequest(command="later", run_after=NOVEMBER.replace(year=2099))
             for _ in range(5)]
        )  # fmt: skip
        result = await jobs.bulk_cancel("state:active", batch_size=2)
        assert (result.matched, result.done, result.asked) == (6, 5, 1)

        async def all_cancelled() -> bool:
            ids = [running.id, *(r.id for r in queued)]
            return await states(jobs, ids) == [JobState.CANCELLED] * 6

        await wait_until(all_cancelled, 10, "every job cancelled")


async def test_bulk_delete_forgets_jobs_and_keeps_counts_and_ids_right(
    history: BackgroundJobs,
) -> None:
    before = await history.counts()
    result = await history.bulk_delete("before:2026-11-01", batch_size=4)
    assert (result.matched, result.done) == (6, 6)
    for job_id in range(1, 7):
        with pytest.raises(JobNotFoundError):
            await history.get_job(job_id)
    after = await history.counts()
    assert after[JobState.COMPLETED] == before[JobState.COMPLETED] - 4
    assert after[JobState.FAILED] == before[JobState.FAILED] - 2
    assert (await history.list_completed("2026-10")).items == []
    assert await history.count_jobs("") == 9
    skipped = await history.bulk_delete([14, 13])
    assert (skipped.done, skipped.skipped) == (1, 1)  # 14 is queued: not deleted
    await history.cancel(15)
    await history.delete(15)  # the newest job: its id must not come back
    again = await history.enqueue("send_email", {"to": "z"})
    assert again.id == 16


async def test_delete_refuses_unfinished_and_unknown_jobs(history: BackgroundJobs) -> None:
    with pytest.raises(InvalidStateError, match="job 14 is queued; only completed, failed"):
        await history.delete(14)
    with pytest.raises(JobNotFoundError, match="there is no job 999"):
        await history.delete(999)


async def test_bulk_requeue_while_an_engine_runs_loses_and_repeats_nothing(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs()
    runs: dict[int, int] = {}

    @jobs.command
    async def flaky(req: dict[str, Any], ctx: JobContext) -> None:
        runs[ctx.job.id] = runs.get(ctx.job.id, 0) + 1
        if req["fail"] and runs[ctx.job.id] == 1:
            raise RuntimeError("first run fails")

    async with jobs:
        refs = await jobs.enqueue_many(
            [EnqueueRequest(command="flaky", request={"fail": i % 2 == 0}, retry_limit=0)
             for i in range(400)]
        )  # fmt: skip

        async def settled() -> bool:
            counts = await jobs.counts()
            return counts[JobState.COMPLETED] + counts[JobState.FAILED] == 400

        await wait_until(settled, 30, "the first runs")
        more = [EnqueueRequest(command="flaky", request={"fail": False}) for _ in range(200)]
        requeue = asyncio.ensure_future(jobs.bulk_requeue("state:failed", batch_size=25))
        await jobs.enqueue_many(more)  # the engine is busy with new work meanwhile
        result = await requeue
        assert result.done == 200

        async def all_done() -> bool:
            return (await jobs.counts())[JobState.COMPLETED] == 600

        await wait_until(all_done, 30, "every job completed")
    assert all(runs[r.id] == (2 if i % 2 == 0 else 1) for i, r in enumerate(refs))
