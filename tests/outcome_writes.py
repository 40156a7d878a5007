"""Helpers for the tests of outcomes written behind the dispatch loop (`Store.outcomes_behind`:
PostgreSQL, and SQLite at FULL): hold a write under way, wait for outcomes written."""

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
