"""Running jobs: handlers, context, retries, timeouts, workers and the month databases."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from jobs_core import JobContext, JobState, ManualClock, Settings, from_ms
from tests.conftest import MakeJobs, wait_until


@dataclass
class Add:
    a: int
    b: int


@dataclass
class Sum:
    total: int


async def test_async_and_sync_handlers_run_with_typed_requests(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()

    @jobs.command
    async def add(req: Add, ctx: JobContext) -> Sum:
        return Sum(total=req.a + req.b)

    @jobs.command
    def add_sync(req: Add) -> int:
        assert threading.current_thread() is not threading.main_thread()
        return req.a * req.b

    async with jobs:
        one = await jobs.enqueue("add", Add(a=2, b=3))
        two = await jobs.enqueue("add_sync", Add(a=2, b=3))
        await wait_until(lambda: _done(jobs, two.id), what="sync job")
        await wait_until(lambda: _done(jobs, one.id), what="async job")
        first = (await jobs.get_job(one.id)).job
        second = (await jobs.get_job(two.id)).job
    assert first is not None and second is not None
    assert (first.response_type, first.response_body) == (
        "tests.contract.test_execution.Sum",
        '{"total":5}',
    )
    assert second.response_body == "6"
    assert first.attempts == 1 and first.duration_ms is not None


async def _done(jobs: object, job_id: int) -> bool:
    from jobs_core import TERMINAL_STATES, BackgroundJobs

    assert isinstance(jobs, BackgroundJobs)
    return (await jobs.get_job(job_id)).state in TERMINAL_STATES


async def test_context_logs_progress_and_status_are_stored(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def report(ctx: JobContext) -> None:
        ctx.log.info("step %d of %d", 1, 2)
        ctx.progress(0.5, "halfway")
        ctx.log.warning("slow disk")
        ctx.status("finishing")

    async with jobs:
        ref = await jobs.enqueue("report")
        await jobs.run_until_idle()
        job = (await jobs.get_job(ref.id)).job
    assert job is not None and job.state is JobState.COMPLETED
    assert job.logs == "09:00:00 INFO step 1 of 2\n09:00:00 WARNING slow disk\n"
    # a handler that returned has finished: its progress reads 1.0, its last status stays
    assert (job.progress, job.status) == (1.0, "finishing")


async def test_completed_job_reads_progress_one_even_if_never_reported(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def silent() -> None:
        return None

    @jobs.command
    async def failing(ctx: JobContext) -> None:
        ctx.progress(0.25)
        raise RuntimeError("no")

    async with jobs:
        done = await jobs.enqueue("silent")
        failed = await jobs.enqueue("failing", retry_limit=0)
        await jobs.run_until_idle()
        finished = [(await jobs.get_job(r.id)).job for r in (done, failed)]
    assert [(j.state, j.progress) for j in finished if j is not None] == [
        (JobState.COMPLETED, 1.0),
        (JobState.FAILED, 0.25),  # a failed job keeps the progress it reached
    ]


async def test_live_progress_is_visible_while_the_job_runs(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    release = asyncio.Event()

    @jobs.command
    async def long(ctx: JobContext) -> None:
        ctx.log.info("started")
        ctx.progress(0.25, "a quarter")
        await release.wait()

    async with jobs:
        ref = await jobs.enqueue("long")

        async def visible() -> bool:
            job = (await jobs.get_job(ref.id)).job
            return job is not None and job.progress == 0.25 and "started" in job.logs

        await wait_until(visible, what="progress written while running")
        assert (await jobs.get_job(ref.id)).state is JobState.STARTED
        release.set()


async def test_failed_job_is_retried_then_archived_with_traceback(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    calls: list[int] = []

    @jobs.command
    async def broken(ctx: JobContext) -> None:
        calls.append(ctx.job.attempts)
        raise ValueError(f"bad input on attempt {ctx.job.attempts}")

    async with jobs:
        ref = await jobs.enqueue("broken")
        await jobs.run_until_idle()
        result = await jobs.get_job(ref.id)
    assert calls == [1, 2, 3]  # the default retry limit of 2: three runs in all
    assert result.state is JobState.FAILED and result.failed is not None
    error = result.failed.error
    assert error is not None and error.code == "ValueError"
    assert error.message == "bad input on attempt 3"
    assert "Traceback" in error.stack and "raise ValueError" in error.stack
    assert result.summary.error_code == "ValueError" and result.summary.attempts == 3
    assert [m.month for m in await jobs.months()] == ["2026-11"]


async def test_retry_waits_for_exponential_backoff(make_jobs: MakeJobs, clock: ManualClock) -> None:
    settings = Settings(retry_backoff_secs=10, retry_jitter=0.0)
    jobs = make_jobs(clock=clock, settings=settings, start_engine=False)
    calls: list[int] = []

    @jobs.command
    async def flaky(ctx: JobContext) -> str:
        calls.append(ctx.job.attempts)
        if ctx.job.attempts < 3:
            raise RuntimeError("not yet")
        return "ok"

    async with jobs:
        ref = await jobs.enqueue("flaky")
        await jobs.run_until_idle()
        job = (await jobs.get_job(ref.id)).job
        assert calls == [1] and job is not None
        assert job.run_after == clock.now_ms() + 10_000 and job.state is JobState.QUEUED
        clock.advance(9.9)
        await jobs.run_until_idle()
        assert calls == [1]
        clock.advance(0.1)
        await jobs.run_until_idle()
        assert calls == [1, 2]
        clock.advance(20)  # second retry waits twice as long
        await jobs.run_until_idle()
        assert (await jobs.get_job(ref.id)).state is JobState.COMPLETED
    assert calls == [1, 2, 3]


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
async def test_timeout_fails_the_attempt_and_retries(make_jobs: MakeJobs, sync: bool) -> None:
    jobs = make_jobs()
    seen: list[bool] = []

    if sync:

        def slow(ctx: JobContext) -> None:
            ctx.cancel_event.wait(5)
            seen.append(ctx.cancelled)

    else:

        async def slow(ctx: JobContext) -> None:  # type: ignore[misc]
            await asyncio.sleep(5)

    jobs.command("slow")(slow)
    async with jobs:
        ref = await jobs.enqueue("slow", timeout=0.05, retry_limit=1)
        await wait_until(lambda: _done(jobs, ref.id), what="timed-out job")
        result = await jobs.get_job(ref.id)
    assert result.state is JobState.FAILED
    assert result.summary.attempts == 2 and result.summary.error_code == "Timeout"
    assert result.summary.error_message == "attempt timed out after 0.05s"
    if sync:
        assert seen == [True, True]


async def test_run_after_holds_the_job_until_due(make_jobs: MakeJobs, clock: ManualClock) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    ran: list[int] = []

    @jobs.command
    async def later(ctx: JobContext) -> None:
        ran.append(ctx.job.id)

    async with jobs:
        await jobs.enqueue("later", run_after=datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
        await jobs.run_until_idle()
        assert ran == []
        clock.set(datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
        await jobs.run_until_idle()
    assert ran == [1]


async def test_named_worker_runs_its_jobs_one_at_a_time_in_order(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    order: list[int] = []
    active = 0
    overlap = False

    @jobs.command(worker="smtp")
    async def send(req: dict[str, int]) -> None:
        nonlocal active, overlap
        active += 1
        overlap = overlap or active > 1
        await asyncio.sleep(0.005)
        order.append(req["n"])
        active -= 1

    async with jobs:
        for n in range(10):
            await jobs.enqueue("send", {"n": n})
        await wait_until(lambda: len(order) == 10, what="ten serial jobs")
    assert order == list(range(10)) and not overlap


async def test_default_worker_runs_jobs_concurrently_up_to_the_limit(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(settings=Settings(concurrency=4, poll_idle_secs=0.005))
    active = 0
    peak = 0
    done = 0

    @jobs.command
    async def work() -> None:
        nonlocal active, peak, done
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1
        done += 1

    async with jobs:
        for _ in range(12):
            await jobs.enqueue("work")
        await wait_until(lambda: done == 12, what="twelve jobs")
    assert peak == 4


async def test_job_completed_in_last_second_of_month_lands_in_that_month(
    make_jobs: MakeJobs,
) -> None:
    clock = ManualClock(datetime(2026, 1, 31, 23, 0, tzinfo=UTC))
    jobs = make_jobs(clock=clock, start_engine=False)
    finish_at = {
        "last": datetime(2026, 1, 31, 23, 59, 59, 999000, tzinfo=UTC),
        "first": datetime(2026, 2, 1, 0, 0, 0, tzinfo=UTC),
    }

    @jobs.command
    async def finish(req: dict[str, str]) -> None:
        clock.set(finish_at[req["at"]])

    async with jobs:
        last = await jobs.enqueue("finish", {"at": "last"}, worker="w")
        first = await jobs.enqueue("finish", {"at": "first"}, worker="w")
        await jobs.run_until_idle()  # archives after the clock reached February
        months = [m.month for m in await jobs.months()]
        january = await jobs.list_completed("2026-01")
        february = await jobs.list_completed("2026-02")
        result = await jobs.get_job(last.id)
    assert months == ["2026-02", "2026-01"]
    assert [j.id for j in january.items] == [last.id]
    assert [j.id for j in february.items] == [first.id]
    assert result.completed is not None
    assert from_ms(result.completed.completed_date or 0) == finish_at["last"]


async def test_job_archived_by_completion_month_not_creation(
    make_jobs: MakeJobs,
) -> None:
    clock = ManualClock(datetime(2026, 1, 31, 23, 0, tzinfo=UTC))
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def noop() -> None:
        return None

    async with jobs:
        ref = await jobs.enqueue("noop")
        clock.set(datetime(2026, 3, 1, 0, 0, 0, 1000, tzinfo=UTC))
        await jobs.run_until_idle()
        months = [m.month for m in await jobs.months()]
        march = await jobs.list_completed("2026-03")
    assert months == ["2026-03"] and [j.id for j in march.items] == [ref.id]


async def test_leaving_drains_running_jobs(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    finished: list[int] = []
    started = asyncio.Event()

    @jobs.command
    async def slowish(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(0.2)
        finished.append(ctx.job.id)

    async with jobs:
        ref = await jobs.enqueue("slowish")
        await asyncio.wait_for(started.wait(), 5)
    assert finished == [ref.id]
    again = make_jobs()
    assert (await again.get_job(ref.id)).state is JobState.COMPLETED


async def test_drain_timeout_requeues_without_counting_the_attempt(make_jobs: MakeJobs) -> None:
    settings = Settings(drain_timeout_secs=0.1, poll_idle_secs=0.005)
    jobs = make_jobs(settings=settings)
    started = asyncio.Event()

    @jobs.command
    async def forever() -> None:
        started.set()
        await asyncio.sleep(60)

    async with jobs:
        ref = await jobs.enqueue("forever")
        await asyncio.wait_for(started.wait(), 5)
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 3
    again = make_jobs()
    result = await again.get_job(ref.id)
    assert result.state is JobState.QUEUED and result.summary.attempts == 0


async def test_summary_is_kept_current_through_the_life_of_a_job(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    states: list[JobState] = []

    @jobs.command
    async def watch(ctx: JobContext) -> str:
        assert ctx.jobs is not None
        states.append((await ctx.jobs.get_job(ctx.job.id)).summary.state)
        clock.advance(1.5)
        return "done"

    async with jobs:
        ref = await jobs.enqueue("watch", tag="t")
        states.append((await jobs.get_job(ref.id)).summary.state)
        await jobs.run_until_idle()
        summary = (await jobs.get_job(ref.id)).summary
    assert states == [JobState.QUEUED, JobState.STARTED]
    assert summary.state is JobState.COMPLETED and summary.tag == "t"
    assert summary.started_date == clock.now_ms() - 1500
    assert summary.completed_date == clock.now_ms()
    assert summary.response_type == "str" and summary.attempts == 1


async def test_sync_job_waiting_for_a_thread_is_not_timed_out(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(settings=Settings(sync_threads=1, poll_idle_secs=0.005))
    finished: list[int] = []

    @jobs.command
    def busy(ctx: JobContext) -> None:
        time.sleep(0.3)  # simulated work holding the only thread
        finished.append(ctx.job.id)

    async with jobs:
        first = await jobs.enqueue("busy", timeout=0.5, retry_limit=0)
        second = await jobs.enqueue("busy", timeout=0.5, retry_limit=0)
        await wait_until(lambda: len(finished) == 2, what="both sync jobs")
        await wait_until(lambda: _done(jobs, second.id), what="second job finished")
        results = [(await jobs.get_job(i)).state for i in (first.id, second.id)]
    assert results == [JobState.COMPLETED, JobState.COMPLETED]


async def test_close_with_the_engine_running_drains_it_first(make_jobs: MakeJobs) -> None:
    # `close()` used to close the store under a running engine: the job it was running
    # finished into a closed store, and the engine retried that write forever.
    jobs = make_jobs()
    started, release = asyncio.Event(), asyncio.Event()

    @jobs.command
    async def hold(req: dict[str, int]) -> str:
        started.set()
        await release.wait()
        return "done"

    await jobs.start()
    ref = await jobs.enqueue("hold", {})
    await asyncio.wait_for(started.wait(), 30)
    asyncio.get_running_loop().call_soon(release.set)
    await asyncio.wait_for(jobs.close(), 30)
    reader = make_jobs(start_engine=False)
    found = await reader.get_job(ref.id)
    assert found.state is JobState.COMPLETED
    assert found.job is not None and found.job.response_body == '"done"'
