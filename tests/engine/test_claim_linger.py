"""The dispatch loop's default claim lingers while jobs stream in (`claiming.py`): after a
short claim the store says took every ready job, the next claim (and on SQLite the outcome
write that goes with it) waits `CLAIM_LINGER_SECS`; a trickle's claims of one, claims held
back by a queue's or a key's limit, and `stop` never wait for it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jobs_core import BackgroundJobs, EnqueueRequest, JobState
from jobs_core.engine import claiming
from tests.conftest import MakeJobs, wait_until

LINGER = 0.3
"""Long enough to tell apart from a claim at once, short enough for a test."""
NEVER = 30.0
"""A linger no test waits out: a claim that lingered fails the test's deadline."""


def counting(jobs: BackgroundJobs, **options: Any) -> dict[int, float]:
    """Register `step` (with `options`); when each job's handler ran (`time.monotonic()`)."""
    started: dict[int, float] = {}

    async def step(req: dict[str, int]) -> None:
        started[req["n"]] = time.monotonic()

    jobs.command("step", **options)(step)  # type: ignore[call-overload]
    return started


async def running(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch, linger: float, **options: Any
) -> tuple[BackgroundJobs, dict[int, float]]:
    """A started engine whose claims linger `linger` seconds, with `step` (`counting`)."""
    monkeypatch.setattr(claiming, "CLAIM_LINGER_SECS", linger)
    jobs = make_jobs()
    started = counting(jobs, **options)
    if options.get("queue"):
        await jobs.set_queue(options["queue"], concurrency=2)
    await jobs.start()
    return jobs, started


async def enqueue(jobs: BackgroundJobs, first: int, n: int, **options: Any) -> None:
    """`n` jobs in one commit, so that one claim finds them together."""
    requests = [EnqueueRequest(command="step", request={"n": i}, **options)
                for i in range(first, first + n)]  # fmt: skip
    await jobs.enqueue_many(requests)


async def test_the_claim_after_a_short_exhausted_one_waits_for_more(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, started = await running(make_jobs, monkeypatch, LINGER)
    before = time.monotonic()  # the first claim is made after this
    await enqueue(jobs, 0, 3)
    await wait_until(lambda: len(started) == 3, what="the first three jobs ran")
    await enqueue(jobs, 3, 1)
    await wait_until(lambda: len(started) == 4, what="the fourth job ran")
    assert started[3] - before >= LINGER, "the fourth job was claimed within the linger"
    # The first three's outcomes were written with that claim, and the fourth's after it.
    await wait_until(lambda: jobs._engine is not None and jobs._engine.processed == 4,
                     what="every outcome written")  # fmt: skip


async def test_a_trickle_does_not_linger(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, started = await running(make_jobs, monkeypatch, NEVER)
    for n in range(3):  # claims of one job each
        await enqueue(jobs, n, 1)
        await wait_until(lambda n=n: n in started, what=f"job {n} ran")  # type: ignore[misc]


@pytest.mark.parametrize(
    "limited", ["queue", "key"], ids=["queue limited to 2", "key limited to 2"]
)
async def test_a_linger_never_idles_a_limited_room(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch, limited: str
) -> None:
    # A claim held back by a limit comes back short (2 of the 40 ready jobs) but not
    # exhausted: were the next one to linger, the room each finished job frees would stay
    # idle for NEVER seconds, and the queue could not drain within the deadline.
    # (A keyed job's end also ends a linger.)
    if limited == "queue":
        jobs, started = await running(make_jobs, monkeypatch, NEVER, queue="limited")
        options: dict[str, Any] = {}
    else:
        jobs, started = await running(make_jobs, monkeypatch, NEVER)
        options = {"concurrency_key": "k", "concurrency_limit": 2}
    await enqueue(jobs, 0, 40, **options)
    await wait_until(lambda: len(started) == 40, what="the limited jobs drained")


async def test_stop_writes_lingering_outcomes(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, started = await running(make_jobs, monkeypatch, NEVER)
    await enqueue(jobs, 0, 3)
    await wait_until(lambda: len(started) == 3, what="the jobs ran")
    engine = jobs._engine
    assert engine is not None
    began = time.monotonic()
    await jobs.stop()
    assert time.monotonic() - began < NEVER / 2, "stop waited for the linger"
    assert engine.processed == 3
    reopened = make_jobs()
    counting(reopened)
    async with reopened:
        states = {(await reopened.get_job(i)).state for i in range(1, 4)}
    assert states == {JobState.COMPLETED}


async def test_the_loop_does_not_poll_the_store_while_a_claim_lingers(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A poll during a linger could only find the jobs the linger waits for: its timer
    # wakes the loop instead (an engine fed ~4,000 jobs/s spent ~20% less CPU a job).
    jobs, started = await running(make_jobs, monkeypatch, LINGER)
    engine = jobs._engine
    assert engine is not None
    polls: list[float] = []
    change_token = engine.store.change_token

    def counted() -> int:
        polls.append(time.monotonic())
        return change_token()

    monkeypatch.setattr(engine.store, "change_token", counted)
    await enqueue(jobs, 0, 3)
    await wait_until(lambda: len(started) == 3, what="the first three jobs ran")
    until = engine._claim_held_until
    assert until > time.monotonic(), "the claim after the first three does not linger"
    await wait_until(lambda: time.monotonic() > until, timeout=LINGER * 10, what="its end")
    during = [t for t in polls if t < until]
    # The turns that started the jobs and that their ends woke (3 here); polling every
    # `poll_active_secs` (1 ms) would make ~LINGER / 0.001 of them.
    assert len(during) <= 10, f"{len(during)} polls of the store within a {LINGER} s linger"
    await enqueue(jobs, 3, 1)
    await wait_until(lambda: len(started) == 4, what="the next job ran after the linger")
