"""An engine's archive passes on SQLite take finished jobs in id order (`in_order`): only
those below the first job still active, the others left to a later pass, for at most
`ORDER_WAIT_MS`; none lost, none archived twice."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from jobs_core import BackgroundJobs, ManualClock
from jobs_core.records import JobState
from jobs_core.store.protocol import NewJob, Transition
from jobs_core.store.sqlite.archive_order import ORDER_WAIT_MS
from jobs_core.store.sqlite.month_reader import month_path
from jobs_core.store.sqlite.store import SqliteStore
from tests.conftest import FAST, MakeJobs, wait_until

NOW = 1_764_000_000_000
DAY_MS = 86_400_000


def job(priority: int = 0, run_after: int = NOW, **options: object) -> NewJob:
    return NewJob(command="c", request_type="dict", request_body="{}", worker="",
                  run_after=run_after, retry_limit=0, timeout_secs=60.0,
                  priority=priority, **options)  # type: ignore[arg-type]  # fmt: skip


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(str(tmp_path))
    yield opened
    await opened.close()


async def run(store: SqliteStore, limit: int, state: JobState = JobState.COMPLETED) -> list[int]:
    """Claim up to `limit` due jobs (highest priority first) and finish them."""
    claimed = await store.claim(owner="o", commands=["c"], named=False, limit=limit, now=NOW)
    await store.finish([Transition(job_id=j.id, state=state, owner_guard="o") for j in claimed],
                       [], NOW)  # fmt: skip
    return sorted(j.id for j in claimed)


def where_they_are(directory: Path) -> tuple[list[int], list[int], list[int]]:
    """(ids live, ids summarised as archived, ids in the month's tables: a row copied twice
    would show twice)."""
    live = sqlite3.connect(directory / "jobs.db")
    month = sqlite3.connect(month_path(str(directory), "2025-11"))
    try:
        return (
            [r[0] for r in live.execute("SELECT id FROM background_job ORDER BY id")],
            [r[0] for r in live.execute("SELECT id FROM job_summary ORDER BY id")],
            [r[0] for r in month.execute(
                "SELECT id FROM completed_job UNION ALL SELECT id FROM failed_job ORDER BY id")],
        )  # fmt: skip
    finally:
        live.close()
        month.close()


async def test_a_job_finished_before_an_older_one_waits_for_a_later_pass(
    store: SqliteStore, tmp_path: Path
) -> None:
    await store.enqueue([job(), job(), job()], NOW)  # 1-3
    await store.enqueue([job(priority=5), job(priority=5), job(priority=5)], NOW)  # 4-6
    assert await run(store, 4) == [1, 4, 5, 6]  # priority first: 2 and 3 wait
    assert await store.archive_finished(NOW, 100, in_order=True) == 1
    assert where_they_are(tmp_path) == ([2, 3, 4, 5, 6], [1], [1])
    assert await store.archive_finished(NOW, 100, in_order=True) == 0
    assert await run(store, 4, JobState.FAILED) == [2, 3]
    assert await store.archive_finished(NOW, 100, in_order=True) == 5
    assert await store.archive_finished(NOW, 100, in_order=True) == 0
    assert where_they_are(tmp_path) == ([], [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6])
    found = [await store.get_job(i) for i in range(1, 7)]
    assert [r.summary.state if r else None for r in found] == [
        JobState.COMPLETED, JobState.FAILED, JobState.FAILED, *[JobState.COMPLETED] * 3
    ]  # fmt: skip


async def test_a_running_job_holds_back_the_jobs_finished_after_it(
    store: SqliteStore, tmp_path: Path
) -> None:
    await store.enqueue([job(), job(), job()], NOW)
    [running] = await store.claim(owner="o", commands=["c"], named=False, limit=1, now=NOW)
    assert await run(store, 10) == [2, 3]
    assert await store.archive_finished(NOW, 100, in_order=True) == 0
    await store.finish([Transition(job_id=running.id, state=JobState.COMPLETED,
                                   owner_guard="o")], [], NOW)  # fmt: skip
    assert await store.archive_finished(NOW, 100, in_order=True) == 3
    assert where_they_are(tmp_path) == ([], [1, 2, 3], [1, 2, 3])


async def test_a_pass_without_in_order_takes_every_finished_job(
    store: SqliteStore, tmp_path: Path
) -> None:
    await store.enqueue([job(), job()], NOW)
    await store.enqueue([job(priority=5)], NOW)
    assert await run(store, 1) == [3]
    assert await store.archive_finished(NOW, 100) == 1
    assert where_they_are(tmp_path) == ([1, 2], [3], [3])


async def test_jobs_wait_for_an_older_running_job_at_most_the_order_wait(
    store: SqliteStore, tmp_path: Path
) -> None:
    """A job running for hours holds the finished jobs above it back for `ORDER_WAIT_MS`
    from the first pass that kept them, then they go out of order."""
    await store.enqueue([job(), job(), job()], NOW)
    [running] = await store.claim(owner="o", commands=["c"], named=False, limit=1, now=NOW)
    assert await run(store, 10) == [2, 3]
    assert await store.archive_finished(NOW, 100, in_order=True) == 0
    assert await store.archive_finished(NOW + ORDER_WAIT_MS - 1, 100, in_order=True) == 0
    assert await store.archive_finished(NOW + ORDER_WAIT_MS, 100, in_order=True) == 2
    assert where_they_are(tmp_path) == ([1], [2, 3], [2, 3])
    # The wait starts again for the jobs that finish next.
    await store.enqueue([job()], NOW)  # 4
    assert await run(store, 10) == [4]
    later = NOW + 2 * ORDER_WAIT_MS
    assert await store.archive_finished(later, 100, in_order=True) == 0
    assert await store.archive_finished(later + ORDER_WAIT_MS, 100, in_order=True) == 1
    assert running.id == 1


async def test_after_the_wait_passes_take_every_finished_job_until_one_is_not_full(
    store: SqliteStore, tmp_path: Path
) -> None:
    await store.enqueue([job() for _ in range(6)], NOW)
    await store.claim(owner="o", commands=["c"], named=False, limit=1, now=NOW)  # 1 runs on
    assert await run(store, 10) == [2, 3, 4, 5, 6]
    assert await store.archive_finished(NOW, 2, in_order=True) == 0
    later = NOW + ORDER_WAIT_MS
    assert [await store.archive_finished(later, 2, in_order=True) for _ in range(4)] == [2, 2, 1, 0]
    assert where_they_are(tmp_path) == ([1], [2, 3, 4, 5, 6], [2, 3, 4, 5, 6])


async def test_jobs_not_due_or_waiting_on_a_parent_hold_nothing_back(
    store: SqliteStore, tmp_path: Path
) -> None:
    """The bound is the first job the indexes show active: running, or the first due job
    of each queue, command and priority ready to start. A job due tomorrow, or one waiting on
    a parent, may wait long: finished jobs above it go at once."""
    await store.enqueue([job(run_after=NOW + DAY_MS)], NOW)  # 1
    [parent] = await store.enqueue([job(run_after=NOW + DAY_MS)], NOW)  # 2
    await store.enqueue([job(parent_id=parent, depends_on=parent)], NOW)  # 3: waits on 2
    await store.enqueue([job(), job()], NOW)  # 4, 5
    assert await run(store, 10) == [4, 5]
    assert await store.archive_finished(NOW, 100, in_order=True) == 2
    assert where_they_are(tmp_path) == ([1, 2, 3], [4, 5], [4, 5])


async def test_an_engine_archives_in_order_while_it_runs_and_everything_when_it_stops(
    make_jobs: MakeJobs, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's passes while it runs keep a job that finished above an older active one
    (here in a paused queue) back until `ORDER_WAIT_MS` have passed on its clock; its last
    pass, as it stops, takes every finished job."""
    calls: list[tuple[bool, int]] = []
    real = SqliteStore.archive_finished

    async def counted(store: SqliteStore, now: int, limit: int, *, in_order: bool = False) -> int:
        moved = await real(store, now, limit, in_order=in_order)
        calls.append((in_order, moved))
        return moved

    monkeypatch.setattr(SqliteStore, "archive_finished", counted)
    jobs = make_jobs(clock=clock, settings=replace(FAST, archive_secs=0.01))

    @jobs.command
    async def note(req: dict[str, int]) -> None:
        return None

    async with jobs:
        await jobs.pause_queue("held")
        held = await jobs.enqueue("note", {"n": 1}, queue="held")
        now = await jobs.enqueue("note", {"n": 2})
        await wait_until(lambda: done(jobs, now.id), what="the due job to complete")
        seen = len(calls)
        await wait_until(lambda: len(calls) >= seen + 3, what="three archive passes after it")
        kept = live_ids(jobs)
        clock.advance(ORDER_WAIT_MS / 1000)
        await wait_until(lambda: live_ids(jobs) == [held.id], what="the job archived")
        while_running = list(calls)
    assert kept == [held.id, now.id]
    assert all(in_order for in_order, _ in while_running)
    assert [moved for _, moved in while_running if moved] == [1]
    assert calls[-1] == (False, 0)  # the pass as it stops: every finished job (none left)


async def done(jobs: BackgroundJobs, job_id: int) -> bool:
    found = await jobs.get_job(job_id)
    return found is not None and found.summary.state is JobState.COMPLETED


def live_ids(jobs: BackgroundJobs) -> list[int]:
    conn = sqlite3.connect(Path(jobs.store.directory) / "jobs.db")
    try:
        return [r[0] for r in conn.execute("SELECT id FROM background_job ORDER BY id")]
    finally:
        conn.close()
