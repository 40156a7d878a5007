"""Retention: `jobs.purge` and the engines' background retention remove old finished jobs,
whole past months at once, keeping summaries and counters consistent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs_core import (
    BackgroundJobs,
    InvalidOptionError,
    JobContext,
    JobNotFoundError,
    JobState,
    ManualClock,
    Settings,
)
from tests.conftest import FAST, MakeJobs, wait_until


def app(make_jobs: MakeJobs, clock: ManualClock, **settings: object) -> BackgroundJobs:
    jobs = make_jobs(clock=clock, settings=Settings(**{**_fast(), **settings}))  # type: ignore[arg-type]

    @jobs.command
    async def step(req: dict[str, bool], ctx: JobContext) -> str:
        if req["fail"]:
            raise ValueError("broken step")
        return "ok"

    return jobs


def _fast() -> dict[str, object]:
    return {f: getattr(FAST, f) for f in FAST.__dataclass_fields__}


async def run_at(
    jobs: BackgroundJobs, clock: ManualClock, when: datetime, *fails: bool
) -> list[int]:
    """Run one job per entry of `fails` at `when`; they finish (and archive) in its month."""
    clock.set(round(when.timestamp() * 1000))
    ids = [(await jobs.enqueue("step", {"fail": f}, retry_limit=0)).id for f in fails]
    await jobs.run_until_idle()
    return ids


async def months(jobs: BackgroundJobs) -> list[str]:
    """Months with archives (on PostgreSQL, partitions may exist for a month with no job)."""
    return [m.month for m in await jobs.months()]


async def archived_history(make_jobs: MakeJobs, clock: ManualClock) -> tuple[list[int], ...]:
    """Jobs finished in August (3 completed, 1 failed) and October (2 completed, 1 failed)."""
    jobs = app(make_jobs, clock)
    async with jobs:
        august = await run_at(
            jobs, clock, datetime(2026, 8, 15, tzinfo=UTC), False, False, False, True
        )
        october = await run_at(jobs, clock, datetime(2026, 10, 10, tzinfo=UTC), False, False, True)
    return august, october


async def test_purge_drops_whole_months_and_reports_what_it_removed(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    august, october = await archived_history(make_jobs, clock)
    clock.set(round(datetime(2026, 11, 20, tzinfo=UTC).timestamp() * 1000))
    jobs = app(make_jobs, clock)
    before = await jobs.counts()
    dry = await jobs.purge(timedelta(days=60), dry_run=True)
    assert (dry.removed, dry.months_dropped, dry.dry_run) == (
        {JobState.COMPLETED: 3, JobState.FAILED: 1}, ["2026-08"], True,
    )  # fmt: skip
    assert await jobs.counts() == before and "2026-08" in await months(jobs)
    report = await jobs.purge(timedelta(days=60))
    assert (report.removed, report.months_dropped, report.total) == (
        {JobState.COMPLETED: 3, JobState.FAILED: 1}, ["2026-08"], 4,
    )  # fmt: skip
    assert "2026-08" not in await months(jobs) and "2026-10" in await months(jobs)
    for job_id in august:
        with pytest.raises(JobNotFoundError):
            await jobs.get_job(job_id)
    assert (await jobs.get_job(october[0])).state is JobState.COMPLETED
    counts = await jobs.counts()
    assert (counts[JobState.COMPLETED], counts[JobState.FAILED]) == (
        before[JobState.COMPLETED] - 3, before[JobState.FAILED] - 1,
    )  # fmt: skip


async def test_purge_of_one_state_removes_rows_inside_a_month(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    august, october = await archived_history(make_jobs, clock)
    clock.set(round(datetime(2026, 11, 20, tzinfo=UTC).timestamp() * 1000))
    jobs = app(make_jobs, clock)
    report = await jobs.purge(datetime(2026, 11, 1, tzinfo=UTC), state="failed")
    # October's failed job is the store's newest: never removed, so its id is never reused.
    assert (report.removed, report.months_dropped) == ({JobState.FAILED: 1}, [])
    with pytest.raises(JobNotFoundError):
        await jobs.get_job(august[3])
    assert [j.id for j in (await jobs.list_failed("2026-10")).items] == [october[2]]
    assert [j.id for j in (await jobs.list_completed("2026-10")).items] == october[1::-1]
    assert (await jobs.counts())[JobState.FAILED] == 1
    with pytest.raises(InvalidOptionError, match="purge state must be one of"):
        await jobs.purge(timedelta(days=1), state="queued")
    with pytest.raises(InvalidOptionError, match="older_than must be a timedelta"):
        await jobs.purge("90d")  # type: ignore[arg-type]


async def test_purging_everything_keeps_the_newest_job_so_ids_go_on(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    _, october = await archived_history(make_jobs, clock)
    clock.set(round(datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000))
    jobs = app(make_jobs, clock)
    report = await jobs.purge(timedelta(0))
    assert (report.total, report.months_dropped) == (6, ["2026-08"])
    assert (await jobs.get_job(october[-1])).state is JobState.FAILED
    assert sum((await jobs.counts()).values()) == 1
    ref = await jobs.enqueue("step", {"fail": False})
    assert ref.id == october[-1] + 1


async def test_engines_apply_retention_settings_in_the_background(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    august, october = await archived_history(make_jobs, clock)
    clock.set(round(datetime(2026, 10, 20, tzinfo=UTC).timestamp() * 1000))
    jobs = app(
        make_jobs, clock, keep_completed=timedelta(days=30), keep_failed=timedelta(days=5),
        retention_every_secs=0.05,
    )  # fmt: skip
    async with jobs:

        async def purged() -> bool:
            counts = await jobs.counts()
            return counts[JobState.COMPLETED] == 2 and counts[JobState.FAILED] == 1

        await wait_until(purged, what="old jobs removed by the engine")
        assert "2026-08" not in await months(jobs) and "2026-10" in await months(jobs)
        assert (await jobs.get_job(october[0])).state is JobState.COMPLETED
        with pytest.raises(JobNotFoundError):
            await jobs.get_job(august[3])  # failed in August: past keep_failed
        with pytest.raises(JobNotFoundError):
            await jobs.get_job(august[0])
        # October's failure is past keep_failed too, but it is the newest job: it stays.
        assert (await jobs.get_job(october[2])).state is JobState.FAILED
