"""A wake-up that arrives while the dispatch loop is in a turn is not lost: the wait after
that turn returns at once (`Engine._dispatch_once` clears the wake-up as the turn begins).
Before, the wait cleared it as the turn ended, and the job enqueued meanwhile waited for
the next poll."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from jobs_core.engine import maintenance
from tests.conftest import FAST, MakeJobs, wait_until

SLOW_POLLS = replace(FAST, poll_active_secs=30.0, poll_idle_secs=30.0)
"""Polls no test waits out: a job that waited for one fails the test's deadline."""


async def test_a_job_enqueued_during_a_turn_starts_without_waiting_for_a_poll(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = make_jobs(settings=SLOW_POLLS)
    started: dict[int, float] = {}

    @jobs.command(name="step")
    async def step(req: dict[str, int]) -> None:
        started[req["n"]] = time.monotonic()

    maintain = maintenance.maintain
    enqueued: list[float] = []

    async def maintain_then_enqueue(engine: Any, now: int) -> None:
        await maintain(engine, now)  # the first turn runs the tickers: the next tick is 1 s on
        if not enqueued:  # once, inside a turn, after the turn's claim
            # The enqueue's own wake-up alone: no signal through `jobs.wake` (the engine
            # would see its own enqueue's), and the loop's connection sees no change.
            engine.store.on_change(None)
            enqueued.append(time.monotonic())
            await jobs.enqueue("step", {"n": 1})

    monkeypatch.setattr(maintenance, "maintain", maintain_then_enqueue)
    async with jobs:
        await wait_until(lambda: 1 in started, timeout=5.0, what="the job enqueued in a turn")
    # Lost, the wake-up would have left the job to the tickers' turn a second later.
    assert started[1] - enqueued[0] < 0.5
