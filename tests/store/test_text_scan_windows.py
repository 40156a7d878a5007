"""SQLite's unindexed text scans: months are read in bounded windows of rows."""

from __future__ import annotations

import pytest

from jobs_core import BackgroundJobs
from jobs_core.store.sqlite import filters
from tests.contract.admin import conftest as admin_fixtures
from tests.contract.admin.test_query_api import everything

history = admin_fixtures.history  # the contract suite's store with a known history


async def test_unindexed_queries_scan_months_in_bounded_windows(
    history: BackgroundJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filters, "TEXT_SCAN_WINDOW", 2)
    page = await history.list_completed("2026-11", "acme")
    assert [job.id for job in page.items] == [13, 12] and page.next_cursor == 12
    assert [job.id for job in await everything(history, "acme", limit=10)] == [13, 12, 11]
    assert [job.id for job in await everything(history, "args.customer:3")] == [4]
