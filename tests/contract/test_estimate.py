"""Progress estimates: a running job that reports no progress shows elapsed time over the
median duration of its command's recent completions, marked as estimated."""

from __future__ import annotations

import asyncio

import pytest

from jobs_core import JobContext, JobState, ManualClock
from tests.conftest import MakeJobs, wait_until


async def test_running_job_without_progress_gets_an_estimate(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock)
    release = asyncio.Event()

    @jobs.command
    async def render(req: dict[str, bool], ctx: JobContext) -> None:
        if req["wait"]:
            if req["report"]:
                ctx.progress(0.1)
            await release.wait()
        else:
            await asyncio.sleep(0.06)  # a typical run: about 60 ms

    async with jobs:
        typical = [await jobs.enqueue("render", {"wait": False, "report": False}) for _ in range(3)]
        await jobs.run_until_idle()
        done = [(await jobs.get_job(ref.id)).job for ref in typical]
        durations = sorted(j.duration_ms for j in done if j is not None and j.duration_ms)
        quiet = await jobs.enqueue("render", {"wait": True, "report": False})
        chatty = await jobs.enqueue("render", {"wait": True, "report": True})

        async def both_running() -> bool:
            running = await jobs.running_jobs()
            reported = [r for r in running if r.id == chatty.id and r.progress == 0.1]
            return len(running) == 2 and bool(reported)

        await wait_until(both_running, what="two running jobs")
        clock.advance(seconds=0.03)  # about half a typical run
        running = {r.id: r for r in await jobs.running_jobs()}
        detail = (await jobs.get_job(quiet.id)).job
        listed = {j.id: j for j in (await jobs.list_queue()).items}
        release.set()
    guess = running[quiet.id]
    assert guess.progress_estimated and guess.progress is not None
    # 30 ms into a run whose typical duration is the median of the completions' (each a
    # 60 ms sleep, longer on a loaded machine).
    assert len(durations) == 3 and durations[1] >= 60
    assert guess.progress == pytest.approx(min(0.99, 30 / durations[1]))
    assert running[chatty.id].progress == 0.1 and not running[chatty.id].progress_estimated
    assert detail is not None and detail.state is JobState.STARTED
    assert detail.progress_estimated and detail.progress == guess.progress
    assert listed[quiet.id].progress_estimated and not listed[chatty.id].progress_estimated
