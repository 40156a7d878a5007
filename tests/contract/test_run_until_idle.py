"""`run_until_idle(timeout)` keeps its deadline while a long job runs, on either clock."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from jobs_core import JobContext, ManualClock, StillBusyError
from tests.conftest import MakeJobs


@pytest.mark.parametrize("manual", [False, True], ids=["system clock", "manual clock"])
async def test_run_until_idle_raises_at_its_deadline_naming_the_running_job(
    make_jobs: MakeJobs, clock: ManualClock, manual: bool
) -> None:
    jobs = make_jobs(clock=clock) if manual else make_jobs()
    release = asyncio.Event()

    @jobs.command
    async def long_report(ctx: JobContext) -> None:
        await release.wait()

    async with jobs:
        ref = await jobs.enqueue("long_report")
        started = time.monotonic()
        with pytest.raises(
            StillBusyError,
            match=rf"run_until_idle: not idle after 0.5s; still running: job {ref.id} "
            r"\(long_report\)",
        ) as busy:
            await jobs.run_until_idle(0.5)
        assert time.monotonic() - started < 5
        assert busy.value.running == [(ref.id, "long_report")]
        release.set()  # the job kept running; it can still finish
        await jobs.run_until_idle()
        assert (await jobs.get_job(ref.id)).state == "completed"


async def test_run_until_idle_deadline_holds_for_a_sync_handler(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    release = threading.Event()

    @jobs.command
    def grind(ctx: JobContext) -> None:
        release.wait(30)

    async with jobs:
        await jobs.enqueue("grind")
        started = time.monotonic()
        with pytest.raises(StillBusyError, match=r"still running: job 1 \(grind\)"):
            await jobs.run_until_idle(0.3)
        assert time.monotonic() - started < 5
        release.set()


async def test_run_until_idle_waits_for_the_dispatch_loops_claim_under_way(
    make_jobs: MakeJobs,
) -> None:
    """A claim of the dispatch loop that has taken a job but not yet returned it (awaiting
    the store: PostgreSQL) must not let `run_until_idle` find the store idle."""
    jobs = make_jobs()
    ran: list[int] = []

    @jobs.command
    async def note(ctx: JobContext) -> None:
        ran.append(ctx.job.id)

    store = jobs.store
    real_claim = store.claim
    taken, release = asyncio.Event(), asyncio.Event()

    async def claim_held_after_taking(**kwargs: object) -> object:
        found = await real_claim(**kwargs)  # type: ignore[arg-type]
        if found and not taken.is_set():
            taken.set()
            await release.wait()
        return found

    async with jobs:
        store.claim = claim_held_after_taking  # type: ignore[method-assign]
        ref = await jobs.enqueue("note")
        await asyncio.wait_for(taken.wait(), 10)
        idle = asyncio.create_task(jobs.run_until_idle(10))
        # It must keep waiting while the held claim has the job.
        done, _ = await asyncio.wait([idle], timeout=0.3)
        assert not done, "run_until_idle returned while a claim under way held a job"
        release.set()
        await idle
        assert ran == [ref.id]
        assert (await jobs.get_job(ref.id)).state == "completed"
