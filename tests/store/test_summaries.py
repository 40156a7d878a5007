"""SQLite keeps a job's summary row only once it is archived: a live job is read from its
row in `background_job`, and the archive writes the summary in the transaction that
removes the row, so a job is in exactly one of the two tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from jobs_core.records import JobState
from jobs_core.store.protocol import NewJob, Transition
from jobs_core.store.sqlite.store import SqliteStore

NOW = 1_764_000_000_000


def job(**options: object) -> NewJob:
    return NewJob(command="c", request_type="dict", request_body="{}", worker="",
                  run_after=NOW, retry_limit=0, timeout_secs=60.0, **options)  # type: ignore[arg-type]  # fmt: skip


def where_they_are(directory: Path) -> tuple[list[int], list[int]]:
    """(ids in `background_job`, ids in `job_summary`)."""
    conn = sqlite3.connect(directory / "jobs.db")
    try:
        return (
            [r[0] for r in conn.execute("SELECT id FROM background_job ORDER BY id")],
            [r[0] for r in conn.execute("SELECT id FROM job_summary ORDER BY id")],
        )
    finally:
        conn.close()


async def finish_all(store: SqliteStore, state: JobState, now: int = NOW) -> list[int]:
    claimed = await store.claim(owner="o", commands=["c"], named=False, limit=100, now=now)
    transitions = [Transition(job_id=j.id, state=state, owner_guard="o") for j in claimed]
    await store.finish(transitions, [], now + 5)
    return [j.id for j in claimed]


async def test_a_job_is_in_the_live_table_until_archived_then_in_the_summaries(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path))
    try:
        [one] = await store.enqueue([job()], NOW)  # a lone plain job: its own statement
        many = await store.enqueue([job(ref_id="r", tag="t"), job(batch_id="b")], NOW)
        before = {i: (await store.get_job(i)) for i in [one, *many]}
        assert where_they_are(tmp_path) == ([1, 2, 3], [])
        assert await finish_all(store, JobState.COMPLETED) == [1, 2, 3]
        assert where_they_are(tmp_path) == ([1, 2, 3], [])
        finished = await store.get_job(2)
        assert await store.archive_finished(NOW + 10, 100) == 3
        assert where_they_are(tmp_path) == ([], [1, 2, 3])
        archived = await store.get_job(2)
        by_ref = await store.get_job_by_ref("r")
        [four] = await store.enqueue([job()], NOW + 20)
    finally:
        await store.close()
    assert all(r is not None and r.summary.state is JobState.QUEUED for r in before.values())
    assert finished is not None and archived is not None and by_ref is not None
    # The summary a live job is read as is the one its archive writes.
    assert finished.summary == archived.summary == by_ref.summary
    assert (archived.summary.ref_id, archived.summary.tag) == ("r", "t")
    assert archived.summary.started_date == NOW and archived.summary.attempts == 1
    assert four == 4  # ids continue after the archived ones


async def test_a_requeued_archived_job_leaves_the_summaries_and_comes_back_when_archived(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path))
    try:
        await store.enqueue([job(ref_id="again")], NOW)
        await finish_all(store, JobState.FAILED)
        await store.archive_finished(NOW + 10, 100)
        assert where_they_are(tmp_path) == ([], [1])
        assert await store.requeue(1, NOW + 20) == [1]
        assert where_they_are(tmp_path) == ([1], [])
        requeued = await store.get_job(1)
        assert await finish_all(store, JobState.COMPLETED, NOW + 20) == [1]
        await store.archive_finished(NOW + 30, 100)
        assert where_they_are(tmp_path) == ([], [1])
        done = await store.get_job_by_ref("again")
    finally:
        await store.close()
    assert requeued is not None and requeued.summary.state is JobState.QUEUED
    assert requeued.queued is not None
    assert done is not None and done.summary.state is JobState.COMPLETED


async def test_the_archive_replaces_a_summary_a_v7_process_wrote_for_a_live_job(
    tmp_path: Path,
) -> None:
    """During an upgrade a process of the previous version may still enqueue beside this
    one, writing a summary row at enqueue: the archive replaces it with the final one."""
    store = SqliteStore(str(tmp_path))
    try:
        await store.enqueue([job(ref_id="old-writer")], NOW)
        conn = sqlite3.connect(tmp_path / "jobs.db")
        conn.execute(
            "INSERT INTO job_summary (id, command, state, ref_id, created_date) "
            "VALUES (1, 'c', 'queued', 'old-writer', ?)",
            (NOW,),
        )
        conn.commit()
        conn.close()
        await finish_all(store, JobState.COMPLETED)
        assert await store.archive_finished(NOW + 10, 100) == 1
        archived = await store.get_job_by_ref("old-writer")
    finally:
        await store.close()
    assert where_they_are(tmp_path) == ([], [1])
    assert archived is not None and archived.summary.state is JobState.COMPLETED
