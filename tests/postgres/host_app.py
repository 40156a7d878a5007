"""An engine process standing for one host: `python -m tests.postgres.host_app URL LEDGER`.

The worker app's commands plus a recurring task whose runs append
`slot <scheduled_for> <job id> <pid>` to the LEDGER. The host name comes from $JOBS_HOSTNAME, so
three processes on one machine look like three hosts to each other.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from jobs_core import JobContext, Schedule
from tests.contract.e2e.worker_app import build
from tests.ledger import append_line

SLOT_SECS = 0.25


async def main(url: str, ledger: str) -> None:
    jobs = build(url, ledger)

    @jobs.command
    async def slot(ctx: JobContext) -> None:
        append_line(ledger, f"slot {ctx.job.meta['scheduled_for']} {ctx.job.id} {os.getpid()}")

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with jobs:
        await jobs.recurring("heartbeat", Schedule.interval(SLOT_SECS), "slot")
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
