"""The app the chaos suite runs in `jobs worker` processes: `--app tests.chaos.chaos_app:build`.

Every execution of a job appends `<job id> <attempt> <pid>` to the file named by
`$CHAOS_LEDGER` before the handler does anything else, with one O_APPEND write, so the
ledger is complete whatever moment a SIGKILL lands and lies outside the store under test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os

from jobs_core import BackgroundJobs, JobContext, Settings
from tests.ledger import append_line

LEDGER_ENV = "CHAOS_LEDGER"
RETRY_LIMIT = 50
"""High, so a job lost with several killed engines is retried, not failed: the suite checks
that kills lose nothing, and `WorkerLost` after the retry limit is the designed outcome."""

SETTINGS = Settings(
    heartbeat_secs=0.2, lease_secs=1.0, retry_backoff_secs=0.0, poll_idle_secs=0.005,
    drain_timeout_secs=5.0, archive_secs=0.1,
)  # fmt: skip
"""Short leases and quick heartbeats, so recovery after a kill takes a fraction of a second."""


def record(ctx: JobContext) -> None:
    """Append this execution to the ledger (one write: atomic with O_APPEND)."""
    append_line(os.environ[LEDGER_ENV], f"{ctx.job.id} {ctx.job.attempts} {os.getpid()}")


def build(directory: str, settings: Settings = SETTINGS) -> BackgroundJobs:
    jobs = BackgroundJobs(directory, settings=settings)

    @jobs.command(retry_limit=RETRY_LIMIT)
    async def work(req: dict[str, int], ctx: JobContext) -> int:
        record(ctx)
        await asyncio.sleep(req.get("ms", 0) / 1000)
        return req.get("n", 0)

    @jobs.command(retry_limit=RETRY_LIMIT)
    async def tick(ctx: JobContext) -> None:
        record(ctx)

    return jobs


def long_lease(directory: str) -> BackgroundJobs:
    """The same app with a one-minute lease: a killed engine's lease outlives the test, so
    only its absent process can show it dead."""
    return build(directory, dataclasses.replace(SETTINGS, lease_secs=60.0))
