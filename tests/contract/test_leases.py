"""Leases: jobs of an engine whose lease lapsed are recovered, attempts counted."""

from __future__ import annotations

import asyncio
from typing import Any

from jobs_core import EngineState, JobContext, JobState, ManualClock, Settings
from jobs_core.engine.leases import beat
from jobs_core.store.opening import open_store
from jobs_core.store.protocol import EngineRegistration, NewJob, Store
from tests.conftest import MakeJobs, wait_until


def make_store(location: str) -> Store:
    """A store of the test's backend at `location`."""
    return open_store(location, Settings())


def new_job(retry_limit: int = 2) -> NewJob:
    return NewJob(command="c", request_type="", request_body="null", worker="", run_after=0,
                  retry_limit=retry_limit, timeout_secs=60)  # fmt: skip


def engine(engine_id: str) -> EngineRegistration:
    return EngineRegistration(id=engine_id, host="other-host", pid=1, workers=[],
                              commands=["c"], concurrency=10)  # fmt: skip


async def test_lapsed_lease_requeues_with_attempt_counted_or_fails_last_attempt(
    store_dir: str,
) -> None:
    store = make_store(store_dir)
    await store.register_engine(engine("far-away"), now=1_000, lease_ms=5_000)
    await store.enqueue([new_job(retry_limit=1), new_job(retry_limit=1)], now=1_000)
    claimed = await store.claim(owner="far-away", commands=["c"], named=False, limit=1, now=1_000)
    assert [j.id for j in claimed] == [1]
    assert await store.recover_lost(now=5_999, dead=[]) == []  # lease still valid
    assert await store.recover_lost(now=6_001, dead=[]) == [1]
    job = await store.get_job(1)
    assert job is not None and job.queued is not None
    assert (job.state, job.queued.attempts) == (JobState.QUEUED, 1)
    assert job.queued.error is not None and job.queued.error.code == "WorkerLost"
    # second attempt also lost: the retry limit (1) is used up, so it fails
    await store.register_engine(engine("far-away-2"), now=7_000, lease_ms=1_000)
    await store.claim(owner="far-away-2", commands=["c"], named=False, limit=2, now=7_000)
    assert sorted(await store.recover_lost(now=8_001, dead=[])) == [1, 2]
    failed = await store.get_job(1)
    assert failed is not None and failed.state is JobState.FAILED
    assert failed.summary.error_code == "WorkerLost" and failed.summary.attempts == 2
    await store.close()


async def test_live_engine_keeps_its_jobs_and_stop_releases_them(store_dir: str) -> None:
    store = make_store(store_dir)
    await store.register_engine(engine("e1"), now=0, lease_ms=1_000)
    await store.enqueue([new_job()], now=0)
    await store.claim(owner="e1", commands=["c"], named=False, limit=5, now=0)
    await store.heartbeat("e1", now=900, lease_ms=1_000, running=1, processed=0, failed=0)
    assert await store.recover_lost(now=1_500, dead=[]) == []
    await store.stop_engine("e1", now=1_600)
    assert await store.recover_lost(now=1_601, dead=[]) == [1]
    await store.close()


async def test_claims_are_exclusive_between_owners(store_dir: str) -> None:
    first = make_store(store_dir)
    second = make_store(store_dir)
    await first.enqueue([new_job() for _ in range(10)], now=0)
    a = await first.claim(owner="a", commands=["c"], named=False, limit=6, now=0)
    b = await second.claim(owner="b", commands=["c"], named=False, limit=6, now=0)
    assert [j.id for j in a] == [1, 2, 3, 4, 5, 6] and [j.id for j in b] == [7, 8, 9, 10]
    unknown = await second.claim(owner="b", commands=["other"], named=False, limit=6, now=0)
    assert unknown == []
    await first.close()
    await second.close()


async def test_recovering_a_dead_engine_records_it_dead_for_every_reader(store_dir: str) -> None:
    store = make_store(store_dir)
    await store.register_engine(engine("gone"), now=0, lease_ms=60_000)
    await store.register_engine(engine("busy"), now=0, lease_ms=60_000)
    await store.enqueue([new_job()], now=0)
    await store.claim(owner="gone", commands=["c"], named=False, limit=1, now=0)
    assert await store.recover_lost(now=1_000, dead=["gone"]) == [1]
    states = {e.id: (e.state, e.reason, e.alive) for e in await store.engines(now=1_000)}
    assert states == {
        "gone": (EngineState.DEAD, "its process 1 on other-host is gone", False),
        "busy": (EngineState.ALIVE, "", True),
    }
    await store.close()


async def test_a_clock_jump_between_heartbeat_and_recovery_keeps_the_engines_own_jobs(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    """The clock jumps past the lease (an NTP step, a suspended VM) right after the engine's
    heartbeat is written: its recovery pass must not take its own running job for lost."""
    jobs = make_jobs(clock=clock)
    release = asyncio.Event()
    starts: list[int] = []

    @jobs.command
    async def hold(ctx: JobContext) -> None:
        starts.append(ctx.job.attempts)
        await release.wait()

    async with jobs:
        ref = await jobs.enqueue("hold")
        await wait_until(lambda: starts == [1], timeout=10, what="the job to start")
        store = jobs.engine.store
        write_heartbeat = store.heartbeat

        async def heartbeat_then_jump(*args: Any, **kwargs: Any) -> None:
            await write_heartbeat(*args, **kwargs)
            clock.advance(seconds=60)

        store.heartbeat = heartbeat_then_jump  # type: ignore[method-assign]
        await beat(jobs.engine)
        store.heartbeat = write_heartbeat  # type: ignore[method-assign]
        job = await jobs.get_job(ref.id)
        assert job is not None and job.state is JobState.STARTED
        release.set()
        await jobs.wait(ref.id, timeout=10)
    assert starts == [1]
