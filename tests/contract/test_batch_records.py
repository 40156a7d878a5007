"""Batch records: a batch is created with callbacks, jobs join it, it closes, and when its
last job ends `on_complete` runs once with its counts (`on_success` only if none failed)."""

from __future__ import annotations

import pytest

from jobs_core import (
    BackgroundJobs,
    BatchCancelledError,
    BatchClosedError,
    BatchCompleted,
    BatchNotFoundError,
    BatchState,
    EnqueueRequest,
    InvalidOptionError,
    InvalidStateError,
    JobContext,
    JobState,
    ManualClock,
    UnknownCommandError,
)
from tests.conftest import MakeJobs

Seen = list[tuple[str, BatchCompleted]]


def batch_app(make_jobs: MakeJobs, clock: ManualClock, seen: Seen) -> BackgroundJobs:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def resize(req: dict[str, int], ctx: JobContext) -> int:
        if req["n"] < 0:
            raise ValueError(f"cannot resize {req['n']}")
        return req["n"] * 2

    @jobs.command
    async def report(req: BatchCompleted) -> None:
        seen.append(("report", req))

    @jobs.command
    async def celebrate(req: BatchCompleted) -> None:
        seen.append(("celebrate", req))

    return jobs


async def test_closed_batch_runs_on_complete_once_with_counts_and_failed_ids(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    seen: Seen = []
    jobs = batch_app(make_jobs, clock, seen)
    async with jobs:
        batch = await jobs.create_batch(
            "thumbnails", on_complete="report", on_success="celebrate", meta={"album": "7"}
        )
        ids = [
            (await jobs.enqueue("resize", {"n": n}, batch_id=batch.id, retry_limit=0)).id
            for n in (1, -2, 3)
        ]
        await jobs.run_until_idle()
        assert seen == []  # still open: more jobs may join
        assert (await batch.status()).state is BatchState.OPEN
        await batch.close()
        await jobs.run_until_idle()
        status = await batch.status()
        await batch.close()  # closing again changes nothing
        await jobs.run_until_idle()
    assert [name for name, _ in seen] == ["report"]
    request = seen[0][1]
    assert (request.batch_id, request.name, request.meta) == (
        batch.id,
        "thumbnails",
        {"album": "7"},
    )
    assert (request.total, request.completed, request.failed, request.cancelled) == (3, 2, 1, 0)
    assert request.failed_ids == [ids[1]] and not request.succeeded
    assert request.finished_at == clock.now_ms()
    assert status.state is BatchState.FINISHED and status.name == "thumbnails"
    assert (status.on_complete, status.on_success) == ("report", "celebrate")
    assert status.counts == {JobState.COMPLETED: 2, JobState.FAILED: 1}
    assert status.failed_ids == [ids[1]] and status.finished_at == clock.now_ms()
    assert status.started_at is not None and status.closed_at is not None


async def test_successful_batch_runs_both_callbacks_and_its_total_closes_it(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    seen: Seen = []
    jobs = batch_app(make_jobs, clock, seen)
    async with jobs:
        batch = await jobs.create_batch(on_complete="report", on_success="celebrate", total=2)
        await jobs.enqueue("resize", {"n": 1}, batch_id=batch.id)
        assert (await batch.status()).state is BatchState.OPEN
        await jobs.enqueue("resize", {"n": 2}, batch_id=batch.id)
        assert (await batch.status()).state is BatchState.CLOSED
        with pytest.raises(BatchClosedError, match=f"batch '{batch.id}' is closed") as refused:
            await jobs.enqueue("resize", {"n": 3}, batch_id=batch.id)
        assert refused.value.batch_id == batch.id
        await jobs.run_until_idle()
        status = await jobs.batch_status(batch.id)
    assert sorted(name for name, _ in seen) == ["celebrate", "report"]
    assert seen[0][1].succeeded and seen[0][1].total == 2
    assert status.total == 2  # the callbacks did not join the batch


async def test_a_job_cancelled_by_its_parent_outside_the_batch_counts_and_finishes_it(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    # The parent is in no batch: its outcome alone says nothing about batches until its
    # dependent is cancelled (on PostgreSQL: the one-statement finish defers to a transaction).
    seen: Seen = []
    jobs = batch_app(make_jobs, clock, seen)
    async with jobs:
        batch = await jobs.create_batch(on_complete="report", on_success="celebrate", total=2)
        await jobs.enqueue("resize", {"n": 1}, batch_id=batch.id)
        await jobs.run_until_idle()  # the parent then ends alone
        parent = await jobs.enqueue("resize", {"n": -1}, retry_limit=0)
        child = await jobs.enqueue("resize", {"n": 2}, batch_id=batch.id, depends_on=parent.id)
        await jobs.run_until_idle()
        status = await batch.status()
        child_job = await jobs.get_job(child.id)
    assert child_job is not None and child_job.state is JobState.CANCELLED
    assert [name for name, _ in seen] == ["report"]
    assert (seen[0][1].completed, seen[0][1].cancelled) == (1, 1)
    assert status.state is BatchState.FINISHED
    assert status.counts == {JobState.COMPLETED: 1, JobState.CANCELLED: 1}


async def test_declared_total_refuses_an_enqueue_that_would_pass_it(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = batch_app(make_jobs, clock, [])
    batch = await jobs.create_batch(total=2)
    with pytest.raises(BatchClosedError, match="declared a total of 2 jobs; 3 would join it"):
        await jobs.enqueue_many([_request(batch.id, n) for n in range(3)])
    assert (await batch.status()).total == 0  # all or nothing


def _request(batch_id: str, n: int) -> EnqueueRequest:
    return EnqueueRequest(command="resize", request={"n": n}, batch_id=batch_id)


async def test_closing_a_batch_whose_jobs_all_ended_finishes_it_at_once(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    seen: Seen = []
    jobs = batch_app(make_jobs, clock, seen)
    async with jobs:
        batch = await jobs.create_batch(on_complete="report")
        await jobs.enqueue("resize", {"n": 5}, batch_id=batch.id)
        await jobs.run_until_idle()
        await jobs.batch(batch.id).close()
        assert (await batch.status()).state is BatchState.FINISHED
        await jobs.run_until_idle()
    assert [(name, req.completed) for name, req in seen] == [("report", 1)]


async def test_cancelled_batch_never_runs_its_callbacks(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    seen: Seen = []
    jobs = batch_app(make_jobs, clock, seen)
    async with jobs:
        batch = await jobs.create_batch(on_complete="report")
        await jobs.enqueue("resize", {"n": 1}, batch_id=batch.id)
        assert len(await batch.cancel("customer left")) == 1
        await batch.close()
        await jobs.run_until_idle()
        with pytest.raises(BatchCancelledError):
            await jobs.enqueue("resize", {"n": 2}, batch_id=batch.id)
        status = await batch.status()
    assert seen == []
    assert status.state is BatchState.CANCELLED and status.cancelled_at is not None


async def test_bad_batches_are_refused_naming_the_problem(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = batch_app(make_jobs, clock, [])
    with pytest.raises(UnknownCommandError, match="no command named 'nothing'"):
        await jobs.create_batch(on_complete="nothing")
    with pytest.raises(InvalidOptionError, match="total must be an int >= 1, got 0"):
        await jobs.create_batch(total=0)
    with pytest.raises(InvalidOptionError, match="meta must map strings to strings"):
        await jobs.create_batch(meta={"n": 1})  # type: ignore[dict-item]
    with pytest.raises(BatchNotFoundError, match="there is no batch 'nope'"):
        await jobs.close_batch("nope")
    await jobs.create_batch(batch_id="nightly")
    with pytest.raises(InvalidStateError, match="batch 'nightly' exists already"):
        await jobs.create_batch(batch_id="nightly")


async def test_callbacks_use_the_worker_and_limits_their_command_declares(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    jobs.command(worker="mailer", retry_limit=5, timeout=30)(_mail)
    jobs.command("work")(_work)
    batch = await jobs.create_batch(on_complete="_mail")
    await jobs.enqueue("work", batch_id=batch.id)
    await batch.close()
    async with jobs:
        await jobs.run_until_idle()
        summaries = [(await jobs.get_job(i)).summary for i in (1, 2)]
        callback = next(s for s in summaries if s.command == "_mail")
        row = (await jobs.get_job(callback.id)).job
    assert row is not None and row.state is JobState.COMPLETED
    assert (row.worker, row.retry_limit, row.timeout_secs) == ("mailer", 5, 30)
    assert row.created_by == "batch" and row.meta == {"batch_complete_for": batch.id}


async def _mail(req: BatchCompleted) -> None:
    return None


async def _work() -> None:
    return None
