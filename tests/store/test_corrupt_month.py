"""A corrupt or unreadable month file: that month reports a clear error naming the file,
every other month and the live store keep working, and the engine's archiver keeps the
month's jobs in the live store until the file can be written again."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from jobs_core import JobState, ManualClock, StoreError
from tests.conftest import FAST, MakeJobs, wait_until
from tests.month_files import (
    NOVEMBER,
    PER_MONTH,
    garbage,
    run_jobs,
    truncate,
    two_months,
    with_echo,
)


@pytest.fixture
async def months(clock: ManualClock, store_dir: str) -> tuple[str, list[int], list[int]]:
    """The October file's path (to damage at rest) and the ids of both months' jobs."""
    october, november = await two_months(store_dir, clock)
    return os.path.join(store_dir, "jobs_2026-10.db"), october, november


DAMAGE = pytest.mark.parametrize("damage", [truncate, garbage], ids=["truncated", "garbage"])


@DAMAGE
async def test_bad_month_reports_its_error_and_the_others_work(
    months: tuple[str, list[int], list[int]],
    make_jobs: MakeJobs,
    clock: ManualClock,
    damage: Callable[[str], None],
) -> None:
    path, october, november = months
    damage(path)
    jobs = make_jobs(clock=clock, start_engine=False)
    bad = f"{path} is corrupt or not an SQLite database"
    found = {m.month: m for m in await jobs.months()}
    assert found["2026-11"].error is None
    assert (found["2026-10"].error or "").startswith(bad)
    for listing in (jobs.list_completed, jobs.list_failed):
        with pytest.raises(StoreError, match=f"^{bad}"):
            await listing("2026-10")
    with pytest.raises(StoreError, match=f"^job {october[-1]} is archived in .*{bad}"):
        await jobs.get_job(october[-1])
    page = await jobs.list_completed("2026-11", limit=PER_MONTH)
    assert [j.id for j in page.items] == november[::-1]
    assert (await jobs.get_job(november[0])).state is JobState.COMPLETED
    assert (await jobs.counts())[JobState.COMPLETED] == 2 * PER_MONTH
    assert (await jobs.list_queue()).items == []


@DAMAGE
async def test_archiver_keeps_a_bad_months_jobs_live_and_the_engine_flowing(
    months: tuple[str, list[int], list[int]],
    make_jobs: MakeJobs,
    clock: ManualClock,
    damage: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, _, november = months
    damage(path)
    # Two per pass: the held October jobs come first in the queue, and must not crowd out
    # November's.
    jobs = with_echo(make_jobs(clock=clock, settings=dataclasses.replace(FAST, archive_batch=2)))
    await jobs.start()
    late = await run_jobs(jobs, clock, datetime(2026, 10, 31, 23, 0, tzinfo=UTC), 5)
    more = await run_jobs(jobs, clock, NOVEMBER, 5)
    # The October jobs finished but cannot move to their month: still readable, live.
    for job_id in late:
        result = await jobs.get_job(job_id)
        assert result.state is JobState.COMPLETED and result.completed is not None
    found = {m.month: m for m in await jobs.months()}
    assert found["2026-10"].error is not None and path in found["2026-10"].error

    async def november_archived() -> bool:
        page = await jobs.list_completed("2026-11", limit=2 * PER_MONTH)
        return [j.id for j in page.items] == (november + more)[::-1]

    await wait_until(november_archived, what="November's jobs archived past October's")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith(f"archiving finished jobs into {path}")
    # The operator moves the bad file away: the held jobs go to a fresh October file.
    os.rename(path, path + ".damaged")

    async def october_archived() -> bool:
        found = {m.month: m for m in await jobs.months()}
        if "2026-10" not in found or found["2026-10"].error is not None:
            return False
        listed = await jobs.list_completed("2026-10")
        return [j.id for j in listed.items] == late[::-1]

    await wait_until(october_archived, timeout=15, what="the held October jobs archived")
    assert any("works again" in r.getMessage() for r in caplog.records)
