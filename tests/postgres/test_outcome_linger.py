"""The background outcome write lingers on PostgreSQL (`outcomes.LINGER_SECS`): outcomes that
come in within it share one `finish` call, the dispatch loop waits meanwhile instead of
spinning, and many pending outcomes are written at once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from jobs_core.engine import outcomes
from tests.conftest import FAST, MakeJobs, wait_until

LINGER = 0.4
"""Long enough that a job finishing 0.1 s after another is within it on a loaded machine."""


async def test_outcomes_within_the_linger_share_one_write_and_the_loop_waits(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outcomes, "LINGER_SECS", LINGER)
    # Polls of a second: the passes counted are the loop's wake-ups (else it polls every ms).
    jobs = make_jobs(settings=replace(FAST, poll_active_secs=1.0, poll_idle_secs=1.0))

    @jobs.command
    async def c(req: dict[str, float]) -> None:
        await asyncio.sleep(req["secs"])

    writes: list[int] = []
    passes: list[float] = []
    finish, token = jobs.store.finish, jobs.store.change_token

    async def counted_finish(transitions: list[Any], *args: Any) -> Any:
        writes.append(len(transitions))
        return await finish(transitions, *args)

    def counted_token() -> int:
        passes.append(asyncio.get_running_loop().time())  # one a pass of the dispatch loop
        return token()

    jobs.store.finish = counted_finish  # type: ignore[method-assign]
    jobs.store.change_token = counted_token  # type: ignore[method-assign]
    await jobs.start()
    first = await jobs.enqueue("c", {"secs": 0.0})
    second = await jobs.enqueue("c", {"secs": 0.1})
    await wait_until(lambda: jobs._engine is not None and jobs._engine.processed == 2,
                     what="both outcomes written")  # fmt: skip
    assert writes == [2], "one write of both outcomes"
    assert (await jobs.get_job(first.id)).state.value == "completed"
    assert (await jobs.get_job(second.id)).state.value == "completed"
    # A spinning loop passes thousands of times in LINGER seconds; a waiting one a few
    # times per wake-up (the enqueues, the job's end, the linger's timer, the write's end).
    assert len(passes) < 40, f"{len(passes)} passes of the dispatch loop"


async def test_many_pending_outcomes_are_written_at_once(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outcomes, "LINGER_SECS", 30.0)
    jobs = make_jobs()
    release = asyncio.Event()

    @jobs.command
    async def c() -> None:
        await release.wait()

    n = outcomes.LINGER_BELOW
    await jobs.start()
    for _ in range(n):
        await jobs.enqueue("c")
    await wait_until(lambda: jobs._engine is not None and len(jobs._engine.running) == n,
                     what="every job running")  # fmt: skip
    release.set()
    # Well within the linger: LINGER_BELOW outcomes pending do not wait for more.
    await wait_until(lambda: jobs._engine is not None and jobs._engine.processed == n,
                     timeout=10.0, what="the outcomes written")  # fmt: skip
