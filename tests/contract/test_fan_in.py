"""Fan-in: a job depending on several jobs or on a batch, under the `completed` and
`finished` policies."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs_core import (
    BackgroundJobs,
    BatchNotFoundError,
    BatchStatus,
    JobContext,
    JobNotFoundError,
    JobResult,
    JobState,
    ManualClock,
)
from tests.conftest import MakeJobs

Seen = dict[str, object]


def fan_app(make_jobs: MakeJobs, clock: ManualClock, seen: Seen) -> BackgroundJobs:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def part(req: dict[str, int]) -> int:
        if req["n"] < 0:
            raise ValueError("bad part")
        return req["n"]

    @jobs.command
    async def combine(ctx: JobContext) -> int:
        parents: list[JobResult] = ctx.parents
        seen["parents"] = [(p.summary.id, p.state) for p in parents]
        seen["batch"] = ctx.parent_batch
        return sum(int(p.job.response_body or 0) for p in parents if p.job is not None)

    return jobs


async def states(jobs: BackgroundJobs, *ids: int) -> list[JobState]:
    return [(await jobs.get_job(i)).state for i in ids]


async def test_child_of_several_parents_waits_for_all_and_sees_them(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    seen: Seen = {}
    jobs = fan_app(make_jobs, clock, seen)
    async with jobs:
        done = await jobs.enqueue("part", {"n": 1})
        await jobs.run_until_idle()
        a = await jobs.enqueue("part", {"n": 2}, run_after=timedelta(seconds=10))
        b = await jobs.enqueue("part", {"n": 3}, run_after=timedelta(seconds=20))
        child = await jobs.enqueue("combine", depends_on=[done.id, a.id, b.id])
        clock.advance(seconds=10)
        await jobs.run_until_idle()
        assert await states(jobs, a.id, child.id) == [JobState.COMPLETED, JobState.QUEUED]
        clock.advance(seconds=10)
        await jobs.run_until_idle()
        result = await jobs.get_job(child.id)
        dependents = [[d.id for d in await jobs.dependents(p.id)] for p in (done, a, b)]
    assert result.state is JobState.COMPLETED and result.job is not None
    assert result.job.response_body == "6"
    assert result.job.dependencies == [done.id, a.id, b.id] and result.job.depends_on == done.id
    assert seen["parents"] == [(i, JobState.COMPLETED) for i in (done.id, a.id, b.id)]
    assert dependents == [[child.id]] * 3


async def test_a_failed_parent_among_several_cancels_the_child_and_its_dependents(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = fan_app(make_jobs, clock, {})
    async with jobs:
        slow = await jobs.enqueue("part", {"n": 1}, run_after=timedelta(seconds=60))
        bad = await jobs.enqueue("part", {"n": -1}, retry_limit=0)
        child = await jobs.enqueue("combine", depends_on=[slow.id, bad.id])
        grandchild = await jobs.enqueue("combine", depends_on=child.id)
        await jobs.run_until_idle()
        found = await jobs.get_job(child.id)
        assert await states(jobs, bad.id, child.id, grandchild.id, slow.id) == [
            JobState.FAILED, JobState.CANCELLED, JobState.CANCELLED, JobState.QUEUED,
        ]  # fmt: skip
        late = await jobs.enqueue("combine", depends_on=[slow.id, bad.id])
        assert await states(jobs, late.id) == [JobState.CANCELLED]
        # Requeued, the failed parent brings back what it cancelled, waiting on it again.
        assert await jobs.requeue(bad.id) == [bad.id, child.id, late.id, grandchild.id]
        assert await states(jobs, child.id, grandchild.id) == [JobState.QUEUED] * 2
        clock.advance(seconds=60)
        await jobs.run_until_idle()
        after = await states(jobs, bad.id, child.id, grandchild.id)
    assert found.summary.error_message == (
        f"cancelled because job {bad.id} it depends on did not complete"
    )
    assert after == [JobState.FAILED, JobState.CANCELLED, JobState.CANCELLED]


async def test_finished_policy_runs_once_parents_end_in_any_state(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    seen: Seen = {}
    jobs = fan_app(make_jobs, clock, seen)
    async with jobs:
        good = await jobs.enqueue("part", {"n": 4})
        bad = await jobs.enqueue("part", {"n": -1}, retry_limit=0)
        cancelled = await jobs.enqueue("part", {"n": 9}, run_after=timedelta(seconds=60))
        child = await jobs.enqueue(
            "combine", depends_on=[good.id, bad.id, cancelled.id], depends_policy="finished"
        )
        only = await jobs.enqueue("combine", depends_on=bad.id, depends_policy="finished")
        await jobs.run_until_idle()
        assert await states(jobs, child.id) == [JobState.QUEUED]
        await jobs.cancel(cancelled.id)
        await jobs.run_until_idle()
        result = await states(jobs, child.id, only.id)
        row = (await jobs.get_job(child.id)).job
    assert result == [JobState.COMPLETED, JobState.COMPLETED]
    assert seen["parents"] == [  # of the last to run: `child`
        (good.id, JobState.COMPLETED), (bad.id, JobState.FAILED),
        (cancelled.id, JobState.CANCELLED),
    ]  # fmt: skip
    assert row is not None and row.response_body == "4"


async def test_child_of_a_batch_runs_once_the_batch_finished(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    seen: Seen = {}
    jobs = fan_app(make_jobs, clock, seen)
    async with jobs:
        batch = await jobs.create_batch("parts")
        for n in (1, 2):
            await jobs.enqueue("part", {"n": n}, batch_id=batch.id)
        strict = await jobs.enqueue("combine", depends_on_batch=batch.id)
        await jobs.run_until_idle()
        assert await states(jobs, strict.id) == [JobState.QUEUED]  # open: more may join
        why = await jobs.why_waiting(strict.id)
        assert why.text == f"blocked by batch '{batch.id}' (it has not finished)"
        assert why.blocked_by is None  # no job holds it
        await batch.close()
        await jobs.run_until_idle()
        result = await states(jobs, strict.id)
    assert result == [JobState.COMPLETED]
    status = seen["batch"]
    assert isinstance(status, BatchStatus) and status.counts == {JobState.COMPLETED: 2}


async def test_a_batch_with_a_failure_cancels_strict_children_and_runs_lenient_ones(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = fan_app(make_jobs, clock, {})
    async with jobs:
        batch = await jobs.create_batch(total=2)
        await jobs.enqueue("part", {"n": 1}, batch_id=batch.id)
        await jobs.enqueue("part", {"n": -1}, batch_id=batch.id, retry_limit=0)
        strict = await jobs.enqueue("combine", depends_on_batch=batch.id)
        lenient = await jobs.enqueue(
            "combine", depends_on_batch=batch.id, depends_policy="finished"
        )
        await jobs.run_until_idle()
        result = await jobs.get_job(strict.id)
        late = await jobs.enqueue("combine", depends_on_batch=batch.id)
        assert await states(jobs, lenient.id, late.id) == [JobState.COMPLETED, JobState.CANCELLED]
    assert result.state is JobState.CANCELLED
    assert result.summary.error_message == (
        f"cancelled because batch '{batch.id}' it depends on did not complete"
    )


async def test_unknown_parents_are_refused(make_jobs: MakeJobs, clock: ManualClock) -> None:
    jobs = fan_app(make_jobs, clock, {})
    first = await jobs.enqueue("part", {"n": 1})
    with pytest.raises(JobNotFoundError, match="depends_on: there is no job 99"):
        await jobs.enqueue("combine", depends_on=[first.id, 99])
    with pytest.raises(BatchNotFoundError, match="depends_on_batch: there is no batch 'b'"):
        await jobs.enqueue("combine", depends_on_batch="b")
