"""`ClaimedJobs.exhausted`: a default claim that says it took every job it found ready left
none behind; one held back by a queue's or a key's limit never says so (an engine would
otherwise let its next claim linger and idle the room a limit frees). A store that cannot
tell says False (PostgreSQL)."""

from __future__ import annotations

from jobs_core import BackgroundJobs, ManualClock
from jobs_core.records import Job
from jobs_core.store.protocol import ClaimedJobs
from tests.conftest import MakeJobs

OWNER = "probe"


def exhausted(jobs: list[Job]) -> bool:
    return isinstance(jobs, ClaimedJobs) and jobs.exhausted


async def claim(jobs: BackgroundJobs, clock: ManualClock) -> list[Job]:
    return await jobs.store.claim(
        owner=OWNER, commands=["step"], named=False, limit=10, now=clock.now_ms()
    )


async def claim_of(jobs: BackgroundJobs, clock: ManualClock, ready: int) -> list[Job]:
    """`ready` jobs of `step` enqueued, then one claim of up to 10."""
    for _ in range(ready):
        await jobs.enqueue("step")
    return await claim(jobs, clock)


def jobs_with_step(make_jobs: MakeJobs, clock: ManualClock, **options: object) -> BackgroundJobs:
    jobs = make_jobs(start_engine=False, clock=clock)

    async def step() -> None:
        """Never runs: the tests claim by hand."""

    jobs.command("step", **options)(step)  # type: ignore[call-overload]
    return jobs


async def test_a_short_exhausted_claim_leaves_nothing_ready(
    make_jobs: MakeJobs, clock: ManualClock, backend: str
) -> None:
    jobs = jobs_with_step(make_jobs, clock)
    async with jobs:
        first = await claim_of(jobs, clock, 3)
        assert len(first) == 3
        assert await claim(jobs, clock) == []
        # SQLite can tell (one queue, no limit, no key); PostgreSQL says it cannot.
        assert exhausted(first) is (backend == "sqlite")


async def test_a_claim_held_back_by_a_queue_limit_is_not_exhausted(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = jobs_with_step(make_jobs, clock, queue="limited")
    async with jobs:
        await jobs.set_queue("limited", concurrency=2)
        first = await claim_of(jobs, clock, 5)
        assert len(first) == 2
        assert not exhausted(first), "three ready jobs were held back by the queue's limit"


async def test_a_claim_held_back_by_a_key_is_not_exhausted(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = jobs_with_step(make_jobs, clock, concurrency_key="k")
    async with jobs:
        first = await claim_of(jobs, clock, 3)
        assert len(first) == 1
        assert not exhausted(first), "two ready jobs were held back by their key"
