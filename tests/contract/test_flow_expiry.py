"""Expiry: a job not started by its `expires_at` never starts and ends cancelled (`Expired`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs_core import InvalidOptionError, JobContext, JobState, ManualClock, WaitReason, to_ms
from tests.conftest import MakeJobs


async def test_expired_job_never_starts_and_its_dependents_are_cancelled(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(start_engine=False, clock=clock)
    ran: list[int] = []

    @jobs.command
    async def offer(n: int) -> None:
        ran.append(n)

    async with jobs:
        stale = await offer.enqueue(1, run_after=timedelta(seconds=30),
                                    expires_in=timedelta(seconds=10))  # fmt: skip
        follow = await offer.enqueue(2, depends_on=stale.id)
        fresh = await offer.enqueue(3, expires_at=datetime.now(UTC) + timedelta(days=3650))
        job = (await jobs.get_job(stale.id)).job
        assert job is not None and job.expires_at == clock.now_ms() + 40_000  # from run_after
        clock.advance(41)
        why = await jobs.why_waiting(stale.id)
        assert why.reasons == [WaitReason.EXPIRED]
        # Claims never start it, even before a sweep settles it.
        claimed = await jobs.store.claim(
            owner="probe", commands=["offer"], named=False, limit=10, now=clock.now_ms()
        )
        assert [j.id for j in claimed] == [fresh.id]
        await jobs.store.finish([], [], clock.now_ms())
        await jobs.run_until_idle()  # sweeps, then runs what is due
        expired = await jobs.get_job(stale.id)
        dependent = await jobs.get_job(follow.id)
    assert (expired.state, expired.summary.attempts) == (JobState.CANCELLED, 0)
    assert expired.summary.error_code == "Expired"
    assert expired.job is not None and expired.job.error is not None
    assert expired.job.error.message == "expired before it started"
    assert (dependent.state, dependent.summary.error_code) == (
        JobState.CANCELLED, "DependencyFailed",
    )  # fmt: skip
    assert ran == []


async def test_a_command_default_expiry_counts_from_when_its_jobs_are_due(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(start_engine=False, clock=clock)

    @jobs.command(expires_in=timedelta(minutes=2))
    async def notify(ctx: JobContext) -> None:
        return None

    ref = await notify.enqueue(run_after=timedelta(minutes=1))
    own = await notify.enqueue(expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    jobs_found = [(await jobs.get_job(r.id)).job for r in (ref, own)]
    assert [j.expires_at for j in jobs_found if j] == [
        clock.now_ms() + 180_000, to_ms(datetime(2030, 1, 1, tzinfo=UTC)),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"expires_at": datetime(2030, 1, 1)}, "expires_at 2030-01-01T00:00:00 is a naive"),
        ({"expires_at": "2030-01-01"}, "expires_at must be a datetime with a time zone"),
        ({"expires_in": timedelta(0)}, "expires_in must be a positive timedelta"),
        ({"expires_in": 30}, "expires_in must be a positive timedelta, got 30"),
        ({"expires_in": timedelta(1), "expires_at": datetime(2030, 1, 1, tzinfo=UTC)},
         "give expires_at or expires_in, not both"),
    ],
)  # fmt: skip
async def test_bad_expiry_options_are_refused_at_enqueue(
    make_jobs: MakeJobs, options: dict[str, object], message: str
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command("noop")(lambda: None)
    with pytest.raises(InvalidOptionError, match=message):
        await jobs.enqueue("noop", **options)  # type: ignore[arg-type]
