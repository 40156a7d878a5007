"""Attempt history: every attempt of a job is kept, with its own outcome, error and logs,
wherever the job lives (queue or month archive), across requeues and lost engines."""

from __future__ import annotations

import asyncio

import pytest

from jobs_core import (
    AttemptOutcome,
    BackgroundJobs,
    JobContext,
    JobNotFoundError,
    JobState,
    ManualClock,
    PermanentError,
    Settings,
)
from jobs_core.store.protocol import EngineRegistration, NewJob
from tests.conftest import MakeJobs, wait_until


async def test_every_attempt_keeps_its_outcome_error_logs_and_engine(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def flaky(ctx: JobContext) -> str:
        ctx.log.info("try %d", ctx.job.attempts)
        ctx.progress(0.25 * ctx.job.attempts, f"step {ctx.job.attempts}")
        clock.advance(seconds=1)
        if ctx.job.attempts < 3:
            raise ConnectionError(f"reset on try {ctx.job.attempts}")
        return "ok"

    async with jobs:
        ref = await jobs.enqueue("flaky", retry_limit=2)
        await jobs.run_until_idle()
        engine_id, host = jobs.engine.id, jobs.engine.host
        live = await jobs.attempts(ref.id)
    assert [(a.number, a.outcome) for a in live] == [
        (1, AttemptOutcome.FAILED),
        (2, AttemptOutcome.FAILED),
        (3, AttemptOutcome.COMPLETED),
    ]
    first, second, third = live
    assert first.error is not None and first.error.code == "ConnectionError"
    assert first.error.message == "reset on try 1"
    assert "Traceback" in first.error.stack and "reset on try 1" in first.error.stack
    assert second.error is not None and second.error.message == "reset on try 2"
    assert third.error is None
    assert [a.logs for a in live] == [
        "09:00:00 INFO try 1\n",
        "09:00:01 INFO try 2\n",
        "09:00:02 INFO try 3\n",
    ]
    assert [(a.progress, a.status) for a in live] == [
        (0.25, "step 1"),
        (0.5, "step 2"),
        (1.0, "step 3"),
    ]
    assert {a.engine for a in live} == {engine_id}
    assert {a.host for a in live} == {host}
    assert first.started_date == clock.now_ms() - 3000
    assert all(a.ended_date is not None and a.duration_ms is not None for a in live)
    # Leaving moved the job to its month archive: the history went with it.
    reader = make_jobs(clock=clock, start_engine=False)
    found = await reader.get_job(ref.id)
    assert found.completed is not None and found.queued is None
    assert await reader.attempts(ref.id) == live


def charge_app(
    make_jobs: MakeJobs, clock: ManualClock, fail: list[bool], error: Exception
) -> BackgroundJobs:
    """A `charge` command that logs a line, then raises `error` while `fail[0]` holds."""
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def charge(ctx: JobContext) -> None:
        ctx.log.info("charging")
        if fail[0]:
            raise error

    return jobs


async def test_requeue_is_an_event_and_numbering_starts_again(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    fail = [True]
    jobs = charge_app(make_jobs, clock, fail, PermanentError("card declined", code="CardDeclined"))
    async with jobs:
        ref = await jobs.enqueue("charge", retry_limit=3)
        await jobs.run_until_idle()
        assert (await jobs.get_job(ref.id)).state is JobState.FAILED
        await jobs.run_until_idle()  # archived as failed: requeue brings it back from there
        fail[0] = False
        assert await jobs.requeue(ref.id) == [ref.id]
        await jobs.run_until_idle()
        history = await jobs.attempts(ref.id)
    assert [(a.number, a.outcome) for a in history] == [
        (1, AttemptOutcome.FAILED),
        (0, AttemptOutcome.REQUEUED),
        (1, AttemptOutcome.COMPLETED),
    ]
    failed, requeued, done = history
    assert failed.error is not None and failed.error.code == "CardDeclined"
    assert failed.logs == "09:00:00 INFO charging\n"
    assert requeued.logs == "[requeue] requeued by operator\n" and requeued.engine is None
    assert done.logs == "09:00:00 INFO charging\n" and done.error is None


@pytest.mark.parametrize("archived", [False, True], ids=["live", "archived"])
async def test_bulk_requeue_keeps_the_history_too(
    make_jobs: MakeJobs, clock: ManualClock, archived: bool
) -> None:
    fail = [True]
    jobs = charge_app(make_jobs, clock, fail, ValueError("gateway timeout"))
    async with jobs:
        ref = await jobs.enqueue("charge", retry_limit=1, batch_id="night")
        await jobs.run_until_idle()  # the retry is due at once under the test settings
        assert (await jobs.get_job(ref.id)).state is JobState.FAILED
        if archived:
            await jobs.run_until_idle()
            assert (await jobs.get_job(ref.id)).failed is not None
        fail[0] = False
        result = await jobs.bulk_requeue([ref.id])
        assert result.done == 1
        assert (await jobs.batch_status("night")).counts == {JobState.QUEUED: 1}
        await jobs.run_until_idle()
        history = await jobs.attempts(ref.id)
    assert [(a.number, a.outcome) for a in history] == [
        (1, AttemptOutcome.FAILED),
        (2, AttemptOutcome.FAILED),
        (0, AttemptOutcome.REQUEUED),
        (1, AttemptOutcome.COMPLETED),
    ]
    charging = "09:00:00 INFO charging\n"
    assert [a.logs for a in history] == [
        charging,
        charging,
        "[requeue] requeued by operator\n",
        charging,
    ]


async def test_a_timed_out_attempt_then_a_success(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    slow = [True]

    @jobs.command
    async def fetch() -> None:
        if slow[0]:
            slow[0] = False
            await asyncio.sleep(5)

    async with jobs:
        ref = await jobs.enqueue("fetch", timeout=0.05, retry_limit=1)
        await wait_until(lambda: _state_is(jobs, ref.id, JobState.COMPLETED), what="second attempt")
        history = await jobs.attempts(ref.id)
    assert [a.outcome for a in history] == [AttemptOutcome.TIMED_OUT, AttemptOutcome.COMPLETED]
    assert history[0].error is not None and history[0].error.code == "Timeout"


async def _state_is(jobs: object, job_id: int, state: JobState) -> bool:
    from jobs_core import BackgroundJobs

    assert isinstance(jobs, BackgroundJobs)
    return (await jobs.get_job(job_id)).state is state


async def test_running_attempt_shows_its_live_logs(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    release = asyncio.Event()

    @jobs.command
    async def long(ctx: JobContext) -> None:
        ctx.log.info("started")
        ctx.progress(0.3, "warming up")
        await release.wait()

    async with jobs:
        ref = await jobs.enqueue("long")

        async def running() -> bool:
            found = await jobs.attempts(ref.id)
            return bool(found) and found[-1].logs.endswith("INFO started\n")

        await wait_until(running, what="the running attempt's logs")
        (attempt,) = await jobs.attempts(ref.id)
        release.set()
    assert (attempt.number, attempt.outcome) == (1, AttemptOutcome.RUNNING)
    assert (attempt.progress, attempt.status) == (0.3, "warming up")
    assert attempt.ended_date is None and attempt.engine is not None


async def test_lost_attempts_name_the_engine_that_lost_them(store_dir: str) -> None:
    from jobs_core.store.opening import open_store

    store = open_store(store_dir, Settings())
    host = EngineRegistration(id="far:41:aa", host="far", pid=41, workers=[], commands=["c"],
                              concurrency=1)  # fmt: skip
    await store.register_engine(host, now=1_000, lease_ms=1_000)
    job = NewJob(command="c", request_type="", request_body="null", worker="", run_after=0,
                 retry_limit=1, timeout_secs=60)  # fmt: skip
    (job_id,) = await store.enqueue([job], now=1_000)
    await store.claim(owner="far:41:aa", commands=["c"], named=False, limit=1, now=1_000)
    assert await store.recover_lost(now=2_001, dead=[]) == [job_id]
    await store.register_engine(
        EngineRegistration(id="near:7:bb", host="near", pid=7, workers=[], commands=["c"],
                           concurrency=1), now=3_000, lease_ms=1_000,
    )  # fmt: skip
    await store.claim(owner="near:7:bb", commands=["c"], named=False, limit=1, now=3_000)
    assert await store.recover_lost(now=4_001, dead=[]) == [job_id]
    history = await store.attempts(job_id)
    assert (await store.get_job(job_id)).state is JobState.FAILED  # type: ignore[union-attr]
    await store.close()
    assert [(a.number, a.outcome, a.engine, a.host) for a in history] == [
        (1, AttemptOutcome.LOST, "far:41:aa", "far"),
        (2, AttemptOutcome.LOST, "near:7:bb", "near"),
    ]
    assert [a.started_date for a in history] == [1_000, 3_000]
    assert history[0].ended_date == 2_001
    assert history[0].error is not None and history[0].error.code == "WorkerLost"
    assert "[recovery] attempt 1 was lost" in history[0].logs


async def test_attempt_logs_survive_the_log_cap(make_jobs: MakeJobs, clock: ManualClock) -> None:
    jobs = make_jobs(
        clock=clock,
        start_engine=False,
        settings=Settings(retry_backoff_secs=0.0, max_log_chars=160),
    )

    @jobs.command
    async def chatty(ctx: JobContext) -> None:
        for n in range(3):
            ctx.log.info("attempt %d line %d", ctx.job.attempts, n)
        if ctx.job.attempts < 3:
            raise RuntimeError("again")

    async with jobs:
        ref = await jobs.enqueue("chatty", retry_limit=2)
        await jobs.run_until_idle()
        history = await jobs.attempts(ref.id)
    assert [a.outcome for a in history][-1] is AttemptOutcome.COMPLETED
    # The cap kept the newest lines: the first attempt's are gone, the last one's are whole.
    assert history[0].logs == "" and history[0].logs_truncated
    assert history[-1].logs.splitlines() == [
        "09:00:00 INFO attempt 3 line 0",
        "09:00:00 INFO attempt 3 line 1",
        "09:00:00 INFO attempt 3 line 2",
    ]
    assert not history[-1].logs_truncated


async def test_attempts_of_an_unknown_job_is_an_error(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)
    with pytest.raises(JobNotFoundError, match="there is no job 99"):
        await jobs.attempts(99)
    jobs.command("idle")(_idle)
    ref = await jobs.enqueue("idle")
    assert await jobs.attempts(ref.id) == []  # queued, never run


async def _idle() -> None:
    return None
