"""A worker app for the cross-process flow-control tests:
`jobs worker --app tests.contract.e2e.flow_app:build STORE`.

Every job appends `<event> <job id> <queue> <key> <wall ms> <started_date> <pid>` to the file
named by `$CHAOS_LEDGER` (one `O_APPEND` write), so a test sees what ran where and when,
across processes.
"""

from __future__ import annotations

import asyncio
import os
import time

from jobs_core import BackgroundJobs, JobContext, Settings
from tests.chaos.chaos_app import LEDGER_ENV
from tests.ledger import append_line

SETTINGS = Settings(
    heartbeat_secs=0.2, lease_secs=2.0, retry_backoff_secs=0.0, poll_idle_secs=0.005,
    drain_timeout_secs=5.0,
)  # fmt: skip


def note(event: str, ctx: JobContext) -> None:
    job = ctx.job
    line = (
        f"{event} {job.id} {job.queue} {job.concurrency_key or '-'} {time.time_ns() // 1_000_000}"
        f" {job.started_date} {os.getpid()}"
    )
    append_line(os.environ[LEDGER_ENV], line)


async def hold_for(ms: int, ctx: JobContext) -> None:
    note("start", ctx)
    await asyncio.sleep(ms / 1000)
    note("end", ctx)


def build(directory: str) -> BackgroundJobs:
    jobs = BackgroundJobs(directory, settings=SETTINGS)
    jobs.command("hold", queue="limited")(hold_for)
    jobs.command("tick", queue="pausable")(hold_for)
    jobs.command("keyed")(hold_for)
    jobs.command("call", queue="api")(hold_for)
    jobs.command("offer")(hold_for)
    return jobs
