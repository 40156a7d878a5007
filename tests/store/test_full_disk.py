"""A full disk: a clear error naming the database, and nothing already stored is lost."""

from __future__ import annotations

import pytest

from jobs_core import EnqueueRequest, JobState, StoreError
from tests.conftest import MakeJobs


async def test_full_disk_refuses_enqueue_clearly_and_keeps_what_was_stored(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def noop(req: dict[str, str]) -> None:
        return None

    stored = await jobs.enqueue_many([EnqueueRequest(command="noop", request={"n": "x"})] * 10)
    # SQLite reports SQLITE_FULL once a database may not grow: the same error a full disk gives.
    conn = jobs.store._conn  # type: ignore[attr-defined]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = [EnqueueRequest(command="noop", request={"n": "y" * 4000})] * 50
    with pytest.raises(StoreError, match=r"cannot write .*jobs\.db: database or disk is full"):
        await jobs.enqueue_many(big)
    assert (await jobs.counts())[JobState.QUEUED] == 10
    assert (await jobs.get_job(stored[-1].id)).state is JobState.QUEUED
    conn.execute("PRAGMA max_page_count = 1073741823")
    again = await jobs.enqueue_many(big)
    assert len(again) == 50 and (await jobs.counts())[JobState.QUEUED] == 60
