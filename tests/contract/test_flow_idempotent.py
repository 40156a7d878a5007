"""Idempotent enqueue: `on_conflict` for a taken ref_id, and commands unique while active."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from jobs_core import (
    DuplicateRefIdError,
    EnqueueRequest,
    InvalidOptionError,
    JobContext,
    JobState,
    ManualClock,
)
from tests.conftest import MakeJobs, wait_until

DAY = timedelta(days=1)


async def test_ref_id_conflict_raises_by_default_and_return_existing_returns_the_job(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command("send")(lambda req: None)
    first = await jobs.enqueue("send", {"n": 1}, ref_id="order-7")
    with pytest.raises(DuplicateRefIdError) as raised:
        await jobs.enqueue("send", {"n": 2}, ref_id="order-7")
    assert raised.value.existing_id == first.id
    again = await jobs.enqueue("send", {"n": 2}, ref_id="order-7", on_conflict="return_existing")
    assert (again.id, again.existing, first.existing) == (first.id, True, False)
    job = (await jobs.get_job(first.id)).job
    assert job is not None and job.request_body == '{"n":1}'  # untouched
    assert (await jobs.counts())[JobState.QUEUED] == 1


async def test_a_ref_id_stays_taken_once_its_job_finished_and_was_archived(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command("send")(lambda req: None)
    first = await jobs.enqueue("send", {"n": 1}, ref_id="order-8")
    async with jobs:
        await jobs.run_until_idle()  # run and archived
        found = await jobs.get_job_by_ref("order-8")
        with pytest.raises(DuplicateRefIdError) as raised:
            await jobs.enqueue("send", {"n": 2}, ref_id="order-8")
        with pytest.raises(DuplicateRefIdError, match="which is no longer queued"):
            await jobs.enqueue("send", {"n": 2}, ref_id="order-8", on_conflict="replace")
        [again, fresh] = await jobs.enqueue_many(
            [EnqueueRequest(command="send", request={"n": 2}, ref_id="order-8",
                            on_conflict="return_existing"),
             EnqueueRequest(command="send", request={"n": 3}, ref_id="order-9", run_after=DAY)]
        )  # fmt: skip
        queued = (await jobs.counts())[JobState.QUEUED]
    assert found.summary.state is JobState.COMPLETED and found.completed is not None
    assert raised.value.existing_id == first.id
    assert (again.id, again.existing, fresh.existing) == (first.id, True, False)
    assert fresh.id == first.id + 1
    assert queued == 1


async def test_replace_changes_a_queued_jobs_request_and_run_after_only(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock)
    started = asyncio.Event()
    hold = asyncio.Event()

    @jobs.command
    async def digest(req: dict[str, int], ctx: JobContext) -> None:
        started.set()
        await hold.wait()

    later = timedelta(minutes=5)
    first = await digest.enqueue({"n": 1}, ref_id="digest", run_after=later)
    replaced = await digest.enqueue(
        {"n": 2}, ref_id="digest", on_conflict="replace", run_after=timedelta(minutes=10)
    )
    job = (await jobs.get_job(first.id)).job
    assert replaced.id == first.id and replaced.existing
    assert job is not None and job.request_body == '{"n":2}'
    assert job.run_after == clock.now_ms() + 600_000
    assert (await jobs.counts())[JobState.QUEUED] == 1
    now = await digest.enqueue({"n": 3}, ref_id="digest", on_conflict="replace")
    assert now.id == first.id
    async with jobs:
        await asyncio.wait_for(started.wait(), 10)
        with pytest.raises(DuplicateRefIdError, match="which is no longer queued"):
            await digest.enqueue({"n": 4}, ref_id="digest", on_conflict="replace")
        running = (await jobs.get_job(first.id)).job
        hold.set()
    assert running is not None and running.request_body == '{"n":3}'


async def test_unique_while_active_returns_the_active_job_then_allows_a_new_one(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    ran: list[dict[str, str]] = []

    @jobs.command(unique_while_active=True)
    async def rebuild(req: dict[str, str]) -> None:
        ran.append(req)

    first = await rebuild.enqueue({"index": "users", "mode": "full"})
    same = await rebuild.enqueue({"mode": "full", "index": "users"})  # key order differs
    other = await rebuild.enqueue({"index": "orders", "mode": "full"})
    assert (same.id, same.existing) == (first.id, True)
    assert other.id != first.id and not other.existing
    async with jobs:
        await jobs.run_until_idle()
        after = await rebuild.enqueue({"index": "users", "mode": "full"})
        assert after.id not in (first.id, other.id) and not after.existing


async def test_unique_key_given_at_enqueue_and_duplicates_within_one_call(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command("sync")(lambda req: None)
    refs = await jobs.enqueue_many(
        [EnqueueRequest(command="sync", request=n, unique_key="tenant-1") for n in range(3)]
        + [EnqueueRequest(command="sync", request=9, unique_key="tenant-2")]
    )
    assert [r.id for r in refs[1:3]] == [refs[0].id] * 2
    assert [r.existing for r in refs] == [False, True, True, False]
    assert (await jobs.counts())[JobState.QUEUED] == 2
    job = (await jobs.get_job(refs[0].id)).job
    assert job is not None and job.unique_key == "tenant-1"


async def test_twenty_concurrent_producers_retrying_one_request_make_one_job(
    make_jobs: MakeJobs,
) -> None:
    producers = [make_jobs(start_engine=False) for _ in range(20)]
    for jobs in producers:
        jobs.command("pay")(lambda req: None)
    go = asyncio.Event()

    async def produce(index: int) -> int:
        await go.wait()
        ref = await producers[index].enqueue(
            "pay", {"order": 7}, ref_id="pay-7", on_conflict="return_existing"
        )
        return ref.id

    tasks = [asyncio.create_task(produce(i)) for i in range(20)]
    await asyncio.sleep(0.05)
    go.set()
    ids = await asyncio.gather(*tasks)
    assert len(set(ids)) == 1
    assert (await producers[0].counts())[JobState.QUEUED] == 1


async def test_twenty_concurrent_enqueues_of_a_unique_command_make_one_job(
    make_jobs: MakeJobs,
) -> None:
    producers = [make_jobs(start_engine=False) for _ in range(20)]
    for jobs in producers:
        jobs.command("reindex", unique_while_active=True)(lambda req: None)
    results = await asyncio.gather(*(p.enqueue("reindex", {"all": True}) for p in producers))
    assert len({r.id for r in results}) == 1
    assert sum(not r.existing for r in results) == 1
    await wait_until(
        lambda: _queued(producers[0]), what="one queued job"
    )  # the count is read once more after every producer returned


async def _queued(jobs: object) -> bool:
    from jobs_core import BackgroundJobs

    assert isinstance(jobs, BackgroundJobs)
    return (await jobs.counts())[JobState.QUEUED] == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"on_conflict": "ignore", "ref_id": "x"}, "on_conflict must be one of raise, "
         "return_existing, replace, got 'ignore'"),
        ({"on_conflict": "return_existing"}, "on_conflict='return_existing' needs a ref_id"),
        ({"unique_key": ""}, "unique_key must not be empty"),
    ],
)  # fmt: skip
async def test_bad_idempotency_options_are_refused(
    make_jobs: MakeJobs, options: dict[str, object], message: str
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command("noop")(lambda: None)
    with pytest.raises(InvalidOptionError, match=message):
        await jobs.enqueue("noop", **options)  # type: ignore[arg-type]


async def test_requeue_of_a_job_whose_unique_key_is_held_again_is_refused_clearly(
    make_jobs: MakeJobs,
) -> None:
    from jobs_core import InvalidStateError

    jobs = make_jobs(start_engine=False)
    jobs.command("sync", unique_while_active=True)(lambda req: None)
    first = await jobs.enqueue("sync", {"tenant": 1})
    await jobs.cancel(first.id)
    second = await jobs.enqueue("sync", {"tenant": 1})
    assert not second.existing
    with pytest.raises(InvalidStateError, match=f"job {first.id} cannot be requeued: another"):
        await jobs.requeue(first.id)
    assert (await jobs.get_job(first.id)).state is JobState.CANCELLED
