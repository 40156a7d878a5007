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
