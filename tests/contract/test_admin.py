"""Query and admin API: lookups, paging with filters, counts, cancel and requeue."""

from __future__ import annotations

import asyncio

import pytest

from jobs_core import (
    EnqueueRequest,
    InvalidStateError,
    JobContext,
    JobFilter,
    JobNotFoundError,
    JobState,
    ManualClock,
)
from tests.conftest import MakeJobs, wait_until


async def test_get_job_unknown_id_and_ref_are_clear_errors(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    with pytest.raises(JobNotFoundError, match="there is no job 5"):
        await jobs.get_job(5)
    with pytest.raises(JobNotFoundError, match="there is no job with ref_id 'r9'"):
        await jobs.get_job_by_ref("r9")


async def test_cancel_queued_job_archives_it_as_cancelled(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    ran: list[int] = []

    @jobs.command
    async def noop(ctx: JobContext) -> None:
        ran.append(ctx.job.id)

    async with jobs:
        ref = await jobs.enqueue("noop")
        assert await jobs.cancel(ref.id) is JobState.CANCELLED
        await jobs.run_until_idle()
        result = await jobs.get_job(ref.id)
        failed = await jobs.list_failed("2026-11")
        with pytest.raises(InvalidStateError, match=f"job {ref.id} is cancelled; only queued"):
            await jobs.cancel(ref.id)
    assert ran == []
    assert result.state is JobState.CANCELLED and result.failed is not None
    assert result.failed.error is not None and result.failed.error.code == "Cancelled"
    assert [j.id for j in failed.items] == [ref.id]


async def test_cancel_running_job_in_process(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    started = asyncio.Event()

    @jobs.command
    async def long() -> None:
        started.set()
        await asyncio.sleep(30)

    async with jobs:
        ref = await jobs.enqueue("long", retry_limit=5)
        await asyncio.wait_for(started.wait(), 5)
        assert await jobs.cancel(ref.id) is JobState.STARTED
        await wait_until(
            lambda: _state_is(jobs, ref.id, JobState.CANCELLED), what="cancel of running job"
        )
        summary = (await jobs.get_job(ref.id)).summary
    assert summary.attempts == 1  # cancelled, not retried


async def test_cancel_running_job_from_another_connection(make_jobs: MakeJobs) -> None:
    """The admin app is another process: the request goes through the store."""
    jobs = make_jobs()
    admin = make_jobs(start_engine=False)
    started = asyncio.Event()
    stopped_by_token: list[bool] = []

    loop = asyncio.get_running_loop()

    @jobs.command
    def long_sync(ctx: JobContext) -> None:
        loop.call_soon_threadsafe(started.set)
        stopped_by_token.append(ctx.cancel_event.wait(30))

    async with jobs:
        ref = await jobs.enqueue("long_sync")
        await asyncio.wait_for(started.wait(), 5)
        assert await admin.cancel(ref.id, "operator pressed c") is JobState.STARTED
        t0 = loop.time()
        await wait_until(
            lambda: _state_is(jobs, ref.id, JobState.CANCELLED), what="cross-connection cancel"
        )
        assert loop.time() - t0 < 1.0
        job = (await jobs.get_job(ref.id)).job
    assert stopped_by_token == [True]
    assert job is not None and job.error is not None
    assert job.error.message == "operator pressed c"


async def _state_is(jobs: object, job_id: int, state: JobState) -> bool:
    from jobs_core import BackgroundJobs

    assert isinstance(jobs, BackgroundJobs)
    return (await jobs.get_job(job_id)).state is state


async def test_requeue_failed_job_from_month_database(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    fail = True

    @jobs.command
    async def fragile() -> str:
        if fail:
            raise OSError("disk unplugged")
        return "fine"

    async with jobs:
        ref = await jobs.enqueue("fragile", retry_limit=0)
        await jobs.run_until_idle()
        assert (await jobs.list_failed("2026-11")).items[0].id == ref.id
        assert (await jobs.counts())[JobState.FAILED] == 1
        fail = False
        assert await jobs.requeue(ref.id) == [ref.id]
        queued = await jobs.get_job(ref.id)
        assert queued.state is JobState.QUEUED and queued.queued is not None
        assert queued.queued.attempts == 0 and queued.queued.error is None
        assert (await jobs.list_failed("2026-11")).items == []
        await jobs.run_until_idle()
        done = await jobs.get_job(ref.id)
        counts = await jobs.counts()
        with pytest.raises(InvalidStateError, match="is completed; only failed or cancelled"):
            await jobs.requeue(ref.id)
    assert done.state is JobState.COMPLETED and done.summary.attempts == 1
    assert done.completed is not None and "[requeue]" in done.completed.logs
    assert (counts[JobState.FAILED], counts[JobState.COMPLETED]) == (0, 1)


async def test_requeue_unknown_job_is_a_clear_error(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    with pytest.raises(JobNotFoundError, match="there is no job 3"):
        await jobs.requeue(3)


async def test_queue_paging_with_filters_uses_keyset_cursor(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()

    @jobs.command
    async def noop() -> None:
        return None

    await jobs.enqueue_many(
        [EnqueueRequest(command="noop", tag="even" if i % 2 == 0 else "odd",
                        created_by=f"user{i % 3}") for i in range(25)]
    )  # fmt: skip
    seen: list[int] = []
    cursor = None
    while True:
        page = await jobs.list_queue(JobFilter(tag="even"), cursor=cursor, limit=5)
        seen.extend(j.id for j in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(range(1, 26, 2))
    both = await jobs.list_queue(JobFilter(tag="even", created_by="user0"), limit=100)
    assert [j.id for j in both.items] == [1, 7, 13, 19, 25]


async def test_archive_paging_filters_and_text_search(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def work(req: dict[str, str]) -> None:
        return None

    async with jobs:
        await jobs.enqueue_many(
            [EnqueueRequest(command="work", request={"city": "Oslo" if i % 4 == 0 else "Rome"},
                            batch_id=f"b{i % 2}") for i in range(40)]
        )  # fmt: skip
        await jobs.run_until_idle()
        first = await jobs.list_completed("2026-11", JobFilter(batch_id="b0"), limit=7)
        second = await jobs.list_completed(
            "2026-11", JobFilter(batch_id="b0"), cursor=first.next_cursor, limit=20
        )
        oslo = await jobs.list_completed("2026-11", JobFilter(text="oslo"), limit=50)
        nothing = await jobs.list_completed("2099-01")
    assert [j.id for j in first.items] == [39, 37, 35, 33, 31, 29, 27]
    assert [j.id for j in second.items] == [25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1]
    assert second.next_cursor is None
    assert [j.id for j in oslo.items] == [37, 33, 29, 25, 21, 17, 13, 9, 5, 1]
    assert nothing.items == []


async def test_counts_and_throughput_cover_every_state(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def ok() -> None:
        return None

    @jobs.command
    async def bad() -> None:
        raise RuntimeError("no")

    async with jobs:
        await jobs.enqueue("ok")
        await jobs.enqueue("bad", retry_limit=0)
        cancelled = await jobs.enqueue("ok", run_after=None)
        await jobs.cancel(cancelled.id)
        await jobs.run_until_idle()
        await jobs.enqueue("ok")
        counts = await jobs.counts()
        (minute,) = await jobs.throughput(5)
    # cancelled jobs are counted apart from failed ones, in counts and per minute
    assert (minute.completed, minute.failed, minute.cancelled) == (1, 1, 1)
    assert counts == {
        JobState.QUEUED: 1, JobState.STARTED: 0, JobState.EXECUTED: 0,
        JobState.COMPLETED: 1, JobState.FAILED: 1, JobState.CANCELLED: 1,
    }  # fmt: skip
