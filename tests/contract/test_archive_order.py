"""An engine's archive passes may keep a job finished out of id order back for a later
pass (`in_order`, SQLite: `store/sqlite/archive_order.py`; PostgreSQL takes every finished
job): on both stores no job is lost or archived twice, and every job reads the same
wherever it is."""

from __future__ import annotations

from jobs_core import EnqueueRequest, JobState, ManualClock
from jobs_core.store.protocol import Transition
from tests.conftest import MakeJobs


async def test_in_order_archive_passes_lose_and_repeat_no_job(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def item(req: dict[str, int]) -> None:
        return None

    def batch(first: int, priority: int) -> list[EnqueueRequest]:
        return [EnqueueRequest(command="item", request={"n": n}, priority=priority)
                for n in range(first, first + 3)]  # fmt: skip

    async def run(limit: int, state: JobState) -> list[int]:
        claimed = await store.claim(owner="o", commands=["item"], named=False, limit=limit,
                                    now=now)  # fmt: skip
        ended = [Transition(job_id=j.id, state=state, owner_guard="o") for j in claimed]
        await store.finish(ended, [], now)
        return [j.id for j in claimed]

    async with jobs:
        store, now = jobs.store, clock.now_ms()
        low = [r.id for r in await jobs.enqueue_many(batch(0, 0))]
        high = [r.id for r in await jobs.enqueue_many(batch(3, 5))]
        first = await run(4, JobState.COMPLETED)  # the high ones, then the oldest low one
        moved = [await store.archive_finished(now, 100, in_order=True)]
        second = await run(4, JobState.FAILED)
        moved += [await store.archive_finished(now, 100, in_order=True) for _ in range(2)]
        moved.append(await store.archive_finished(now, 100))
        month = (await jobs.months())[0].month
        completed = await jobs.list_completed(month, limit=100)
        failed = await jobs.list_failed(month, limit=100)
        found = [await jobs.get_job(i) for i in low + high]
        counts = await jobs.counts()
    assert sorted(first) == sorted([low[0], *high]) and sorted(second) == low[1:]
    assert moved[-2:] == [0, 0]
    assert sorted(j.id for j in completed.items) == sorted([low[0], *high])
    assert sorted(j.id for j in failed.items) == low[1:]
    assert [r.summary.state if r else None for r in found] == [
        JobState.COMPLETED, JobState.FAILED, JobState.FAILED, *[JobState.COMPLETED] * 3
    ]  # fmt: skip
    assert counts[JobState.COMPLETED] == 4 and counts[JobState.FAILED] == 2
