"""A worker process with a recurring task: `python -m tests.contract.e2e.scheduled_app DIR LEDGER`.

Every run appends `<job id> <scheduled_for> <run_now> <pid>` to the LEDGER file, so the test
can check that each slot ran once across processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from jobs_core import BackgroundJobs, JobContext, Schedule
from tests.contract.e2e.worker_app import SETTINGS
from tests.ledger import append_line

INTERVAL_SECS = 0.2
"""The task's interval: short, so a two-second test sees about ten slots."""


def build(directory: str, ledger: str) -> BackgroundJobs:
    jobs = BackgroundJobs(directory, settings=SETTINGS)

    @jobs.command
    async def record(ctx: JobContext) -> None:
        meta = ctx.job.meta
        run_now = meta.get("run_now", "false")
        append_line(ledger, f"{ctx.job.id} {meta['scheduled_for']} {run_now} {os.getpid()}")

    return jobs


async def main(directory: str, ledger: str) -> None:
    jobs = build(directory, ledger)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with jobs:
        # Every process registers the task at start, as an app would: idempotent.
        await jobs.recurring("tick", Schedule.interval(INTERVAL_SECS), "record", overlap="allow")
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
