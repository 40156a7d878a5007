"""Capped logs through the store: whole lines, a marker, and `logs_truncated` in `get_job`."""

from __future__ import annotations

import asyncio
import dataclasses

from jobs_core import JobContext, JobState
from tests.conftest import FAST, MakeJobs, wait_until

CAP = 400
LINE_COUNT = 60


def assert_capped(logs: str, last_line: str) -> None:
    lines = logs.splitlines()
    assert lines[0].startswith("[... ") and lines[0].endswith(" earlier characters truncated]")
    assert all(line.endswith(" x" * 5) for line in lines[1:])  # no line was cut in half
    assert lines[-1].endswith(last_line) and len(logs) <= CAP


async def test_logs_written_while_running_are_capped_at_a_line_boundary(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(settings=dataclasses.replace(FAST, max_log_chars=CAP))
    release = asyncio.Event()

    @jobs.command
    async def chatty(ctx: JobContext) -> None:
        for i in range(LINE_COUNT):
            ctx.log.info("line %03d%s", i, " x" * 5)
        await release.wait()

    async with jobs:
        ref = await jobs.enqueue("chatty")

        async def truncated_while_running() -> bool:
            job = (await jobs.get_job(ref.id)).job
            return job is not None and job.state is JobState.STARTED and job.logs_truncated

        await wait_until(truncated_while_running, what="the running job's logs to be capped")
        running = (await jobs.get_job(ref.id)).job
        assert running is not None
        assert_capped(running.logs, f"line {LINE_COUNT - 1:03d}" + " x" * 5)
        release.set()
        await jobs.run_until_idle()
        done = (await jobs.get_job(ref.id)).completed
    assert done is not None and done.logs_truncated  # kept in the month database too


async def test_logs_written_at_the_end_are_capped_and_flagged(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(settings=dataclasses.replace(FAST, max_log_chars=CAP), start_engine=False)

    @jobs.command
    async def chatty(ctx: JobContext) -> None:
        for i in range(LINE_COUNT):
            ctx.log.info("line %03d%s", i, " x" * 5)

    @jobs.command
    async def quiet(ctx: JobContext) -> None:
        ctx.log.info("just one line")

    async with jobs:
        long = await jobs.enqueue("chatty")
        short = await jobs.enqueue("quiet")
        await jobs.run_until_idle()
        capped = (await jobs.get_job(long.id)).completed
        whole = (await jobs.get_job(short.id)).completed
    assert capped is not None and whole is not None
    assert capped.logs_truncated and not whole.logs_truncated
    assert_capped(capped.logs, f"line {LINE_COUNT - 1:03d}" + " x" * 5)
    assert whole.logs.endswith("INFO just one line\n")
