"""Waiting on a stored job: woken by the store's change signal (another connection's commit),
by this process's engine, or by this facade's own writes, with no busy polling."""

from __future__ import annotations

import asyncio
import time

import pytest

from jobs_core import JobCancelledError, JobContext, JobResult
from jobs_core.waiting import SAFETY_READ_SECS
from tests.conftest import MakeJobs, wait_until


async def test_wait_sees_a_job_finished_by_another_connection(make_jobs: MakeJobs) -> None:
    waiter = make_jobs(start_engine=False)  # another process, as far as the store can tell
    worker = make_jobs()
    release = asyncio.Event()

    @worker.command
    async def slow() -> str:
        await release.wait()
        return "done"

    waiter.command("slow")(slow)
    async with worker:
        ref = await waiter.enqueue("slow")
        waiting = asyncio.create_task(waiter.wait(ref.id, timeout=30))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        release.set()
        assert await waiting == "done"


async def test_wait_wakes_at_once_on_this_facades_own_cancel(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command("idle")(_idle)
    ref = await jobs.enqueue("idle")
    waiting = asyncio.create_task(jobs.wait(ref.id, timeout=30))
    # The waiter has read the job and sleeps on the watch (a cancel before that would be
    # read by its first read, and prove nothing).
    await wait_until(lambda: jobs._change_watch().waiting == 1, what="the waiter asleep")
    started = time.monotonic()
    await jobs.cancel(ref.id, "not needed")
    with pytest.raises(JobCancelledError, match="not needed"):
        await waiting
    # Its own commit does not move its own connection's change token: the facade's write
    # woke the waiter, well before the safety-net read.
    assert time.monotonic() - started < SAFETY_READ_SECS / 2


async def test_a_change_made_while_the_waiter_reads_wakes_it_at_once(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command("idle")(_idle)
    ref = await jobs.enqueue("idle")
    read = jobs.get_job
    reads = 0

    async def read_then_cancel(job_id: int) -> JobResult:
        nonlocal reads
        found = await read(job_id)  # still queued
        reads += 1
        if reads == 1:  # the facade's own write lands before the waiter sleeps
            await jobs.cancel(ref.id, "while it read")
        return found

    monkeypatch.setattr(jobs, "get_job", read_then_cancel)
    started = time.monotonic()
    with pytest.raises(JobCancelledError, match="while it read"):
        await jobs.wait(ref.id, timeout=30)
    assert time.monotonic() - started < SAFETY_READ_SECS / 2  # not the safety-net read
    assert reads == 2


async def test_many_waiters_share_one_watch(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    release = asyncio.Event()

    @jobs.command
    async def gated(req: dict[str, int], ctx: JobContext) -> int:
        await release.wait()
        return req["n"]

    async with jobs:
        refs = [await jobs.enqueue("gated", {"n": n}) for n in range(20)]
        waiting = asyncio.gather(*(jobs.wait(r.id, timeout=30) for r in refs))
        await wait_until(lambda: jobs._change_watch().waiting == 20, what="twenty waiters")
        watches = [t for t in asyncio.all_tasks() if t.get_name() == "jobs-change-watch"]
        release.set()
        results = await waiting
    assert len(watches) == 1  # one task watches the store for all twenty waiters
    assert results == list(range(20))


async def _idle() -> None:
    return None
