"""Helpers for the tests of outcomes written behind the dispatch loop (`Store.outcomes_behind`:
PostgreSQL, and SQLite at FULL): hold a write under way, wait for outcomes written, and the
scenario both stores' tests run with them."""

from __future__ import annotations

import asyncio
from typing import Any

from jobs_core import BackgroundJobs
from tests.conftest import wait_until


def hold_writes(jobs: BackgroundJobs) -> tuple[asyncio.Event, asyncio.Event]:
    """(set once an outcome write began, set it to let writes through): the first write
    stays under way until released."""
    writing, release = asyncio.Event(), asyncio.Event()
    finish = jobs.store.finish

    async def held_finish(*args: Any, **kwargs: Any) -> Any:
        writing.set()
        await release.wait()
        return await finish(*args, **kwargs)

    jobs.store.finish = held_finish  # type: ignore[method-assign]
    return writing, release


async def written(jobs: BackgroundJobs, n: int) -> None:
    """Wait until the engine wrote `n` outcomes."""
    await wait_until(
        lambda: jobs._engine is not None and jobs._engine.processed == n,
        what=f"{n} outcomes written",
    )


async def second_runs_while_first_is_written(jobs: BackgroundJobs) -> None:
    """Register `c`, start the engine, run one job and hold its outcome's write; a second
    job enqueued then runs while that write is still held. Both outcomes are written."""
    ran: list[str] = []

    @jobs.command
    async def c(req: dict[str, str]) -> None:
        ran.append(req["name"])

    writing, release = hold_writes(jobs)
    await jobs.start()
    try:
        await jobs.enqueue("c", {"name": "first"})
        await wait_until(writing.is_set, what="the first job's outcome being written")
        await jobs.enqueue("c", {"name": "second"})
        await wait_until(lambda: "second" in ran, timeout=5.0, what="the second job to run")
        assert not release.is_set()
    finally:
        release.set()
    await written(jobs, 2)
