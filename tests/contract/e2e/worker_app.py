"""A worker process for the cross-process tests.

Run as `python -m tests.contract.e2e.worker_app STORE LEDGER`.

Every job appends `<event> <job id> <attempt> <pid>` to the LEDGER file, so the test can
count how often each job ran, across processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from jobs_core import BackgroundJobs, BatchCompleted, JobContext, Settings
from tests.ledger import append_line

SETTINGS = Settings(
    heartbeat_secs=0.2, lease_secs=1.0, retry_backoff_secs=0.0, poll_idle_secs=0.005,
    drain_timeout_secs=5.0,
)  # fmt: skip


def build(directory: str, ledger: str) -> BackgroundJobs:
    jobs = BackgroundJobs(directory, settings=SETTINGS)

    def note(event: str, ctx: JobContext) -> None:
        append_line(ledger, f"{event} {ctx.job.id} {ctx.job.attempts} {os.getpid()}")

    @jobs.command
    async def record(ctx: JobContext) -> None:
        note("run", ctx)

    @jobs.command
    async def record_slowly(ctx: JobContext) -> None:
        # Long enough that one engine cannot drain a batch of hundreds before the other polls.
        note("run", ctx)
        await asyncio.sleep(0.02)

    @jobs.command
    async def batch_done(req: BatchCompleted, ctx: JobContext) -> int:
        note("batch_done", ctx)
        return req.completed

    @jobs.command
    async def hang_first_attempt(ctx: JobContext) -> str:
        note("start", ctx)
        if ctx.job.attempts == 1:
            await asyncio.sleep(3600)  # killed here by the test
        note("done", ctx)
        return "survived"

    @jobs.command
    async def progress_until_cancelled(ctx: JobContext) -> None:
        note("start", ctx)
        for step in range(10_000):
            ctx.progress(step / 10_000, f"step {step}")
            await asyncio.sleep(0.02)

    return jobs


async def main(directory: str, ledger: str) -> None:
    jobs = build(directory, ledger)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with jobs:
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
