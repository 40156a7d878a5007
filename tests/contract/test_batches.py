"""A cancelled batch is closed: it refuses new jobs from any process, yet the follow-ups
(callbacks, replies) of jobs that already ran in it are still stored."""

from __future__ import annotations

import pytest

from jobs_core import BatchCancelledError, EnqueueRequest, JobContext, JobState
from jobs_core.records import JobError
from jobs_core.store.protocol import NewJob, Transition
from tests.conftest import MakeJobs


async def item(req: dict[str, int], ctx: JobContext) -> int:
    return req["n"]


async def test_cancelled_batch_refuses_new_jobs_from_any_process(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = make_jobs()
    jobs.command(item)
    other = make_jobs(store_dir)  # a second facade: another process's connection
    other.command(item)
    first = await jobs.enqueue("item", {"n": 1}, batch_id="B")
    assert await jobs.cancel_batch("B") == [first.id]
    for facade in (jobs, other):
        with pytest.raises(
            BatchCancelledError, match="batch 'B' was cancelled and takes no new jobs"
        ) as refused:
            await facade.enqueue("item", {"n": 2}, batch_id="B")
        assert refused.value.batch_id == "B"
        with pytest.raises(BatchCancelledError):
            await facade.enqueue_many(
                [EnqueueRequest(command="item", request={"n": 3}, batch_id=b) for b in "AB"]
            )
    status = await jobs.batch_status("B")
    assert (status.total, status.counts) == (1, {JobState.CANCELLED: 1})
    assert (await jobs.batch_status("A")).total == 0  # all or nothing
    await jobs.enqueue("item", {"n": 4}, batch_id="A")  # other batches stay open


async def test_batch_cancelled_before_its_first_job_stays_closed(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(item)
    assert await jobs.cancel_batch("nightly") == []
    with pytest.raises(BatchCancelledError, match="batch 'nightly'"):
        await jobs.enqueue("item", {"n": 1}, batch_id="nightly")


async def test_follow_ups_of_a_job_that_ran_are_stored_in_a_cancelled_batch(
    make_jobs: MakeJobs,
) -> None:
    """The job finished as the batch was cancelled: its callback must not be lost."""
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    ref = await jobs.enqueue("item", {"n": 1}, batch_id="B", callback="item")
    store, now = jobs.store, jobs.clock.now_ms()
    (claimed,) = await store.claim(owner="e1", commands=["item"], named=False, limit=1, now=now)
    await store.cancel_batch("B", "batch cancelled", now)
    done = Transition(job_id=ref.id, state=JobState.EXECUTED, owner_guard="e1",
                      response_body="1")  # fmt: skip
    callback = NewJob(command="item", request_type="int", request_body="1", worker="",
                      run_after=now, retry_limit=0, timeout_secs=5, parent_id=ref.id,
                      batch_id="B", meta={"callback_for": str(ref.id)})  # fmt: skip
    result = await store.finish([done], [callback], now)
    assert result.applied == [claimed.id] and len(result.new_job_ids) == 1
    follow_up = await jobs.get_job(result.new_job_ids[0])
    assert (follow_up.summary.batch_id, follow_up.state) == ("B", JobState.QUEUED)


async def test_cancel_batch_reason_is_recorded_on_its_jobs(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(item)
    ref = await jobs.enqueue("item", {"n": 1}, batch_id="B")
    await jobs.cancel_batch("B", "customer left")
    job = (await jobs.get_job(ref.id)).job
    assert job is not None and job.error == JobError(code="Cancelled", message="customer left")
