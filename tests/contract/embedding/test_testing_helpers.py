"""`jobs_core.testing` and the pytest plugin's fixtures, used as an app's tests would."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobs_core import BackgroundJobs, JobFailedError, JobState, ManualClock, mask_store_url
from jobs_core.testing import (
    assert_enqueued,
    assert_not_enqueued,
    drain,
    eager,
    enqueued,
    isolated,
)
from tests.contract.embedding.shop_app import Email, Order, flaky, jobs, place_order, send_email

Isolate = Callable[[BackgroundJobs], BackgroundJobs]


async def test_plugin_fixtures_isolate_the_app_facade(
    jobs_isolated: Isolate, jobs_dir: str, jobs_clock: ManualClock
) -> None:
    app = jobs_isolated(jobs)
    assert app is jobs and jobs.clock is jobs_clock
    assert jobs.store.location == mask_store_url(jobs_dir)
    async with jobs:
        await place_order.enqueue(Order(1, "a@b.c", 9.5))
        await assert_enqueued(jobs, place_order, where=lambda o: o.id == 1, count=1)
        assert not jobs.engine.running  # nothing runs until drained


async def test_drain_runs_jobs_and_the_jobs_they_enqueue(jobs_isolated: Isolate) -> None:
    jobs_isolated(jobs)
    async with jobs:
        handle = await place_order.enqueue(Order(2, "c@d.e", 3.0))
        await drain(jobs)
        assert await handle.wait(timeout=1) == 3.0
        await assert_not_enqueued(jobs, send_email)
        assert (await jobs.counts())[JobState.COMPLETED] == 2


async def test_drain_advance_moves_the_fake_clock_through_retries(
    jobs_isolated: Isolate, jobs_clock: ManualClock
) -> None:
    jobs_isolated(jobs)
    async with jobs:
        handle = await flaky.enqueue(2, retry_limit=3)
        await drain(jobs)
        assert (await handle.get()).state is JobState.QUEUED  # its retry is due later
        start = jobs_clock.now_ms()
        await drain(jobs, advance=True)
        assert await handle.wait(timeout=1) == 3
        assert jobs_clock.now_ms() > start


async def test_drain_needs_the_facade_entered(jobs_isolated: Isolate) -> None:
    jobs_isolated(jobs)
    with pytest.raises(Exception, match="drain needs the facade entered"):
        await drain(jobs)


async def test_eager_runs_at_enqueue_and_raises_handler_errors(jobs_isolated: Isolate) -> None:
    jobs_isolated(jobs)
    async with jobs:
        with eager(jobs):
            handle = await place_order.enqueue(Order(3, "x@y.z", 1.0))
            assert (await handle.get()).state is JobState.COMPLETED
            assert await handle.wait(timeout=1) == 1.0
            assert await enqueued(jobs, send_email) == []  # ran in the same drain
            with pytest.raises(JobFailedError, match="ValueError: bad address 'nobody'"):
                await send_email.enqueue(Email(to="nobody", subject="s"))
        with eager(jobs, raise_errors=False):
            bad = await send_email.enqueue(Email(to="nobody", subject="s"))
            assert (await bad.get()).state is JobState.FAILED
        queued = await send_email.enqueue(Email(to="later@x.y", subject="s"))
        assert (await queued.get()).state is JobState.QUEUED  # eager mode is over


async def test_assert_enqueued_failure_lists_the_queued_requests(jobs_isolated: Isolate) -> None:
    jobs_isolated(jobs)
    async with jobs:
        await send_email.enqueue(Email(to="a@b.c", subject="hi"))
        await assert_enqueued(jobs, "send_email", where=lambda e: e.subject == "hi")
        with pytest.raises(AssertionError, match=r"found 0; queued requests of 'send_email': "
                           r"\[\{'to': 'a@b.c', 'subject': 'hi'\}\]"):  # fmt: skip
            await assert_enqueued(jobs, send_email, where=lambda e: e.to == "z@z.z")
        with pytest.raises(AssertionError, match="expected 2 job"):
            await assert_enqueued(jobs, send_email, count=2)
        with pytest.raises(AssertionError, match="expected 0 job"):
            await assert_not_enqueued(jobs, send_email)


def test_isolated_restores_the_facade_after_the_block(store_dir: str) -> None:
    store, clock = jobs.store, jobs.clock
    with isolated(jobs, store_dir, clock=ManualClock(0)) as app:
        assert app.store is not store and isinstance(app.clock, ManualClock)
        assert sum(app.sync.counts().values()) == 0  # the sync API follows the isolation
    assert jobs.store is store and jobs.clock is clock and jobs._start_engine
