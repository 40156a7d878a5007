"""Engine-level fixtures: a store with a known history across two months."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from jobs_core import BackgroundJobs, EnqueueRequest, ManualClock
from tests.conftest import MakeJobs

OCTOBER = datetime(2026, 10, 30, 12, 0, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def build_history(jobs: BackgroundJobs, clock: ManualClock) -> None:
    """October: imports 1-6 (1, 2 fail). November: emails 7-10 (queue email), imports 11-13
    (11 fails), then 14-15 queued for next year."""

    @jobs.command
    async def import_orders(req: dict[str, Any]) -> None:
        if req.get("fail"):
            raise RuntimeError(f"no such customer {req['customer']}")

    @jobs.command
    async def send_email(req: dict[str, Any]) -> None:
        return None

    await jobs.start()
    clock.set(OCTOBER)
    await jobs.enqueue_many([
        EnqueueRequest(command="import_orders", request={"customer": f"c{i}", "fail": i < 2},
                       retry_limit=0, tag="october", args={"customer": str(i)})
        for i in range(6)
    ])  # fmt: skip
    await jobs.run_until_idle()
    clock.set(NOVEMBER)
    await jobs.enqueue_many(
        [EnqueueRequest(command="send_email", request={"to": f"u{i}@x"}, tag="mail",
                        created_by="alice" if i % 2 else "bob", queue="email") for i in range(4)]
        + [EnqueueRequest(command="import_orders", request={"customer": "acme", "fail": i == 0},
                          retry_limit=0, batch_id="b-nov") for i in range(3)]
    )  # fmt: skip
    await jobs.run_until_idle()
    clock.advance(60)
    for i in range(2):
        next_year = datetime(2027, 1, 1, tzinfo=UTC)
        await jobs.enqueue("send_email", {"to": "later"}, run_after=next_year, user_id=f"user{i}")


@pytest.fixture
async def history(make_jobs: MakeJobs) -> BackgroundJobs:
    clock = ManualClock(OCTOBER)
    jobs = make_jobs(clock=clock, start_engine=False)
    await build_history(jobs, clock)
    return jobs
