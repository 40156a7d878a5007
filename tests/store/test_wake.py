"""Engines on SQLite wake when another process enqueues (`store/sqlite/wake.py`): a job
enqueued by another process starts at once, not at the engine's next poll."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from jobs_core import JobState
from jobs_core.store.sqlite.wake import WakeWatch
from tests.conftest import FAST, MakeJobs, wait_until

ROOT = Path(__file__).resolve().parents[2]

ENQUEUE = """
import asyncio, sys
from jobs_core import BackgroundJobs

async def main():
    jobs = BackgroundJobs(sys.argv[1], start_engine=False)
    jobs.command(name="item")(lambda req: None)
    ref = await jobs.enqueue("item", {"n": 1})
    await jobs.close()
    print(ref.id)

asyncio.run(main())
"""


def enqueue_elsewhere(store_dir: str) -> int:
    """Enqueue one `item` job from another process; its id."""
    out = subprocess.run(
        [sys.executable, "-c", ENQUEUE, store_dir], cwd=ROOT, check=True, timeout=60,
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    return int(out.split()[-1])


SLEEPY = replace(
    FAST, poll_active_secs=60.0, poll_idle_secs=60.0, heartbeat_secs=60.0, lease_secs=120.0
)
"""An engine that would not look for work by itself for a minute."""


async def test_a_job_enqueued_by_another_process_starts_without_waiting_for_a_poll(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = make_jobs(settings=SLEEPY)
    ran: list[int] = []

    @jobs.command
    async def item(req: dict[str, int]) -> None:
        ran.append(req["n"])

    await jobs.start()

    async def far(now: int) -> int:
        return now + 3_600_000

    # Before the dispatch loop's first pass: the scheduler's ticker would wake it every second.
    jobs.engine.tickers[:] = [far]
    await asyncio.sleep(0.05)  # the engine's first look found nothing; it now waits
    for _ in range(2):
        job_id = await asyncio.to_thread(enqueue_elsewhere, store_dir)

        async def completed(job_id: int = job_id) -> bool:
            info = await jobs.get_job(job_id)
            return info.job is not None and info.job.state is JobState.COMPLETED

        await wait_until(completed, timeout=10.0, what=f"job {job_id} to run")
    assert ran == [1, 1]


async def test_the_watch_fires_on_another_process_s_enqueue(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = make_jobs(start_engine=False)
    await jobs.close()  # the store exists
    fired = asyncio.Event()
    watch = WakeWatch.start(store_dir, fired.set)
    assert watch is not None, "inotify is available on Linux"
    try:
        await asyncio.sleep(0.05)
        assert not fired.is_set()
        await asyncio.to_thread(enqueue_elsewhere, store_dir)
        await asyncio.wait_for(fired.wait(), timeout=10.0)
    finally:
        watch.close()


async def test_a_wake_up_right_after_a_claim_is_held_not_lost(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(settings=SLEEPY, start_engine=False)
    await jobs.start()  # the engine is made, its dispatch loop not started: none clears the wake
    engine = jobs.engine
    engine._last_claim = time.monotonic()
    engine._changed()
    assert not engine._wake.is_set()  # held: a busy producer's commits share a claim
    await wait_until(engine._wake.is_set, timeout=5.0, what="the held wake-up")
