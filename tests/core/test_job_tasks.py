"""The engine makes a job's task with the `Task` class itself (cheaper than
`asyncio.create_task`), but through the loop's task factory when the app set one, and
names it after the job either way."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from tests.conftest import MakeJobs, wait_until


async def test_job_tasks_are_named_and_go_through_the_loops_task_factory(
    make_jobs: MakeJobs,
) -> None:
    made: list[asyncio.Task[Any]] = []
    seen: list[str] = []

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        made.append(task)
        return task

    jobs = make_jobs()

    @jobs.command
    async def note(req: dict[str, int]) -> None:
        task = asyncio.current_task()
        assert task is not None
        seen.append(task.get_name())

    loop = asyncio.get_running_loop()
    async with jobs:
        first = await jobs.enqueue("note", {"n": 1})
        await wait_until(lambda: len(seen) == 1, what="the first job ran")
        loop.set_task_factory(factory)  # type: ignore[arg-type]
        try:
            second = await jobs.enqueue("note", {"n": 2})
            await wait_until(lambda: len(seen) == 2, what="the second job ran")
        finally:
            loop.set_task_factory(None)
    assert seen == [f"job-{first.id}", f"job-{second.id}"]
    names = [task.get_name() for task in made]  # named once made (Python 3.11)
    assert f"job-{second.id}" in names and f"job-{first.id}" not in names
