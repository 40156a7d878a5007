"""While jobs stream in, the engine's claims linger (`engine/claiming.py`): after a claim that
took several jobs, fewer than it could, the next claim waits until LINGER_SECS after it, so
that claims take more at once; a trickle (claims of one) and a backlog (full claims) claim
at once, and `run_until_idle` never waits."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from jobs_core import BackgroundJobs, EnqueueRequest
from jobs_core.engine.claiming import LINGER_SECS
from tests.conftest import FAST, MakeJobs, wait_until


def spy_claims(jobs: BackgroundJobs) -> list[tuple[float, int]]:
    """(monotonic time it began, jobs taken) of each default claim that took jobs."""
    took: list[tuple[float, int]] = []
    claim = jobs.store.claim

    async def spy(**kwargs: Any) -> Any:
        began = time.monotonic()
        claimed = await claim(**kwargs)
        if claimed and not kwargs["named"]:
            took.append((began, len(claimed)))
        return claimed

    jobs.store.claim = spy  # type: ignore[method-assign]
    return took


async def test_a_claim_after_a_short_claim_of_several_waits_for_the_linger(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs()
    done: list[int] = []

    @jobs.command
    async def item(req: dict[str, int]) -> None:
        if req["n"] == 0:  # enqueued while the first claim's jobs run: ready at once
            await jobs.enqueue("item", {"n": 9})
        done.append(req["n"])

    took = spy_claims(jobs)
    async with jobs:
        await jobs.enqueue_many(
            [EnqueueRequest(command="item", request={"n": n}) for n in range(3)]
        )
        await wait_until(lambda: len(done) == 4, what="the three jobs and the follow-up")
        assert [n for _, n in took] == [3, 1]
        assert took[1][0] - took[0][0] >= LINGER_SECS
        assert not jobs.engine._streaming  # type: ignore[union-attr]  # it took one


async def test_a_trickle_and_a_backlog_do_not_linger(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(settings=replace(FAST, concurrency=2))
    done: list[int] = []

    @jobs.command
    async def item(req: dict[str, int]) -> None:
        done.append(req["n"])

    took = spy_claims(jobs)
    async with jobs:
        engine = jobs.engine
        assert engine is not None
        await jobs.enqueue("item", {"n": 0})
        await wait_until(lambda: len(done) == 1, what="the first job")
        assert not engine._streaming  # a claim of one: a trickle
        await jobs.enqueue_many(
            [EnqueueRequest(command="item", request={"n": n}) for n in range(1, 6)]
        )
        await wait_until(lambda: len(done) == 6, what="the backlog")
        assert [n for _, n in took][:2] == [1, 2]  # the backlog's first claim was full
        assert not engine._streaming  # its last claim took one


async def test_run_until_idle_claims_at_once_while_the_loop_lingers(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs()

    @jobs.command
    async def item(req: dict[str, int]) -> None:
        return None

    async with jobs:
        engine = jobs.engine
        assert engine is not None
        await jobs.enqueue_many(
            [EnqueueRequest(command="item", request={"n": n}) for n in range(3)]
        )
        await jobs.run_until_idle()
        assert engine._streaming  # three of up to `concurrency`: the loop lingers now
        refs = await jobs.enqueue_many(
            [EnqueueRequest(command="item", request={"n": n}) for n in range(2)]
        )
        await jobs.run_until_idle()  # returns only once nothing due is left
        for ref in refs:
            assert (await jobs.get_job(ref.id)).state == "completed"
