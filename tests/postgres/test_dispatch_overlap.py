"""The engine on PostgreSQL writes outcomes in the background of its dispatch loop
(`Store.concurrent_writes`): a write under way never holds the next claim back."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import MakeJobs, wait_until


async def test_jobs_start_while_the_outcomes_before_them_are_still_being_written(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs()
    ran: list[str] = []

    @jobs.command
    async def c(req: dict[str, str]) -> None:
        ran.append(req["name"])

    writing, release = asyncio.Event(), asyncio.Event()
    finish = jobs.store.finish

    async def held_finish(*args: Any, **kwargs: Any) -> Any:
        writing.set()
        await release.wait()  # the first outcome's write stays under way
        return await finish(*args, **kwargs)

    jobs.store.finish = held_finish  # type: ignore[method-assign]
    await jobs.start()
    try:
        await jobs.enqueue("c", {"name": "first"})
        await wait_until(writing.is_set, what="the first job's outcome being written")
        await jobs.enqueue("c", {"name": "second"})
        # The dispatch loop's upkeep once waited for the write under way (when it had no
        # activity to write): claims and writes then took turns instead of overlapping.
        await wait_until(lambda: "second" in ran, timeout=5.0, what="the second job to run")
        assert not release.is_set()
    finally:
        release.set()
    await wait_until(
        lambda: jobs._engine is not None and jobs._engine.processed == 2,
        what="both outcomes written",
    )
