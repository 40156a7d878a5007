"""SQLite's unindexed text scans: months are read in bounded windows of rows."""

from __future__ import annotations

import pytest

from jobs_core import BackgroundJobs, ManualClock
from jobs_core.store.sqlite import filters
from tests.conftest import MakeJobs
from tests.contract.admin.conftest import OCTOBER, build_history
from tests.contract.admin.test_query_api import everything


@pytest.fixture
async def history(make_jobs: MakeJobs) -> BackgroundJobs:
    clock = ManualClock(OCTOBER)
    jobs = make_jobs(clock=clock, start_engine=False)
    await build_history(jobs, clock)
    return jobs


async def test_unindexed_queries_scan_months_in_bounded_windows(
    history: BackgroundJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filters, "TEXT_SCAN_WINDOW", 2)
    page = await history.list_completed("2026-11", "acme")
    assert [job.id for job in page.items] == [13, 12] and page.next_cursor == 12
    assert [job.id for job in await everything(history, "acme", limit=10)] == [13, 12, 11]
    assert [job.id for job in await everything(history, "args.customer:3")] == [4]
