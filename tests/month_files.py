"""Month files for the damaged-month tests: a store with jobs archived in two months, and
the two kinds of damage (truncation, garbage)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from jobs_core import BackgroundJobs, EnqueueRequest, JobContext, ManualClock
from tests.conftest import FAST

OCTOBER = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PER_MONTH = 150
"""Enough rows with a 1 KB result that each table spans many pages, so a truncated file
loses some of them."""


def truncate(path: str) -> None:
    with open(path, "r+b") as file:
        file.truncate(os.path.getsize(path) // 2)


def garbage(path: str) -> None:
    with open(path, "wb") as file:
        file.write(b"\x5a\xa5 not a database " * 4096)


def with_echo(jobs: BackgroundJobs) -> BackgroundJobs:
    """`jobs` with the `echo` command `run_jobs` enqueues (a 1 KB result)."""

    @jobs.command
    async def echo(req: dict[str, int], ctx: JobContext) -> str:
        return f"{req['i']:04d}" * 250

    return jobs


async def run_jobs(jobs: BackgroundJobs, clock: ManualClock, when: datetime, n: int) -> list[int]:
    """Run `n` jobs to completion (and archiving) with the clock at `when`; their ids."""
    clock.set(when)
    requests = [EnqueueRequest(command="echo", request={"i": i}) for i in range(n)]
    refs = await jobs.enqueue_many(requests)
    await jobs.run_until_idle()
    return [r.id for r in refs]


async def two_months(directory: str, clock: ManualClock) -> tuple[list[int], list[int]]:
    """Fill a new store with PER_MONTH jobs archived in October and in November, then close
    it; returns their ids. Its October file is `jobs_2026-10.db`."""
    async with with_echo(BackgroundJobs(directory, clock=clock, settings=FAST)) as jobs:
        october = await run_jobs(jobs, clock, OCTOBER, PER_MONTH)
        november = await run_jobs(jobs, clock, NOVEMBER, PER_MONTH)
    return october, november
