"""Retry policies in the engine: backoff kinds, errors retried or failed at once, per job."""

from __future__ import annotations

import itertools
from datetime import timedelta

from jobs_core import JobContext, JobState, ManualClock, PermanentError, RetryPolicy
from tests.conftest import MakeJobs


class Busy(ConnectionError):
    """A transient error worth retrying."""


class BadInput(ValueError):
    """An error no retry fixes."""


async def test_no_retry_on_and_retry_on_fail_at_once_what_they_exclude(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    seen: list[tuple[str, int]] = []
    errors = {"busy": Busy("try later"), "bad": BadInput("no such sku"), "key": KeyError("x")}

    @jobs.command(retry_limit=3, retry=RetryPolicy(base=0, no_retry_on=(ValueError,)))
    async def order(kind: str, ctx: JobContext) -> None:
        seen.append((kind, ctx.job.attempts))
        raise errors[kind]

    async with jobs:
        busy = await order.enqueue("busy")
        bad = await order.enqueue("bad")
        only_busy = RetryPolicy(base=0, retry_on=(ConnectionError,))
        key = await order.enqueue("key", retry=only_busy)  # the job's policy wins
        await jobs.run_until_idle()
        found = {name: await jobs.get_job(r.id) for name, r in
                 (("busy", busy), ("bad", bad), ("key", key))}  # fmt: skip
    assert {k: (v.state, v.summary.attempts) for k, v in found.items()} == {
        "busy": (JobState.FAILED, 4), "bad": (JobState.FAILED, 1), "key": (JobState.FAILED, 1),
    }  # fmt: skip
    assert found["bad"].summary.error_code == "BadInput"
    key_job = found["key"].job
    assert key_job is not None and key_job.retry_policy is not None
    assert key_job.retry_policy.retry_on == ("ConnectionError",)


async def test_backoff_kinds_space_the_retries(make_jobs: MakeJobs, clock: ManualClock) -> None:
    jobs = make_jobs(start_engine=False, clock=clock)
    starts: dict[str, list[int]] = {}

    @jobs.command(retry_limit=3, retry=RetryPolicy(backoff="linear", base=10, jitter=0))
    async def flaky(name: str, ctx: JobContext) -> None:
        starts.setdefault(name, []).append(clock.now_ms())
        raise Busy("again")

    t0 = clock.now_ms()
    async with jobs:
        await flaky.enqueue("linear")
        fixed = RetryPolicy(backoff="fixed", base=timedelta(seconds=7), jitter=0)
        await flaky.enqueue("fixed", retry=fixed)
        capped = RetryPolicy(base=4, cap=10, jitter=0)  # exponential: 4, 8, 10
        await flaky.enqueue("capped", retry=capped)
        from jobs_core.testing import drain

        await drain(jobs, advance=True)
    gaps = {name: [b - a for a, b in itertools.pairwise(times)] for name, times in starts.items()}
    assert gaps == {
        "linear": [10_000, 20_000, 30_000],
        "fixed": [7_000, 7_000, 7_000],
        "capped": [4_000, 8_000, 10_000],
    }
    assert all(times[0] == t0 for times in starts.values())


async def test_permanent_error_is_never_retried_whatever_the_policy(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command(retry_limit=5, retry=RetryPolicy(base=0, retry_on=(PermanentError,)))
    async def declined(ctx: JobContext) -> None:
        raise PermanentError("card declined", code="CardDeclined")

    async with jobs:
        ref = await declined.enqueue()
        await jobs.run_until_idle()
        found = await jobs.get_job(ref.id)
    assert (found.state, found.summary.attempts, found.summary.error_code) == (
        JobState.FAILED, 1, "CardDeclined",
    )  # fmt: skip
