"""Per-command figures through the admin API: tallied when jobs finish, kept eight days."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from jobs_core import EnqueueRequest, JobContext, ManualClock
from tests.conftest import MakeJobs

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def test_figures_count_runs_failures_and_durations_per_command(
    make_jobs: MakeJobs,
) -> None:
    clock = ManualClock(T0)
    jobs = make_jobs(clock=clock, start_engine=False)

    async def resize(req: dict[str, Any], ctx: JobContext) -> None:
        await asyncio.sleep(req["seconds"])  # the engine measures attempts in real time
        if req.get("fail"):
            raise RuntimeError("too big")

    async def later(req: dict[str, Any]) -> None:
        return None

    jobs.command(resize)
    jobs.command(later)

    await jobs.start()
    await jobs.enqueue_many(
        [EnqueueRequest(command="resize", request={"seconds": 0.03}, retry_limit=0)
         for _ in range(8)]
        + [EnqueueRequest(command="resize", request={"seconds": 0.3, "fail": True},
                          retry_limit=0)
           for _ in range(2)]
    )  # fmt: skip
    await jobs.run_until_idle()
    queued = await jobs.enqueue("later", {}, run_after=datetime(2027, 1, 1, tzinfo=UTC))
    await jobs.cancel(queued.id)
    figures, cancelled = await jobs.command_figures(minutes=15)
    assert (figures.command, figures.completed, figures.failed) == ("resize", 8, 2)
    assert figures.runs == 10 and figures.failure_rate == 0.2
    assert figures.p50_ms is not None and 20 <= figures.p50_ms < 200  # the 30 ms ones
    assert figures.p95_ms is not None and figures.p95_ms >= 200  # the 300 ms ones
    assert (cancelled.command, cancelled.cancelled, cancelled.runs, cancelled.p50_ms) == (
        "later", 1, 0, None
    )  # fmt: skip
    chart = await jobs.command_throughput("resize", minutes=60)
    assert sum(b.completed for b in chart) == 8 and sum(b.failed for b in chart) == 2
    clock.advance(9 * 86_400)  # past the eight days tallies are kept: the next pass forgets
    await jobs.run_until_idle()
    assert await jobs.command_figures(minutes=15 * 24 * 60) == []
