"""A new month file indexes a nullable filter column (tag, batch, creator, user, ref id) only
for the jobs that set it, and every filter on such a column still finds its jobs through
that index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jobs_core.query import JobQuery
from jobs_core.records import JobState
from jobs_core.store.protocol import NewJob, Transition
from jobs_core.store.sqlite import search
from jobs_core.store.sqlite.filters import job_where
from jobs_core.store.sqlite.month_reader import month_of, month_path
from jobs_core.store.sqlite.store import SqliteStore

NOW = 1_764_000_000_000


def job(tag: str | None = None, ref_id: str | None = None) -> NewJob:
    return NewJob(command="c", request_type="dict", request_body="{}", worker="",
                  run_after=NOW, retry_limit=0, timeout_secs=60.0, tag=tag,
                  ref_id=ref_id)  # fmt: skip


async def complete_and_archive(store: SqliteStore, jobs: list[NewJob]) -> None:
    """`jobs` enqueued, claimed, completed and archived into NOW's month file."""
    await store.enqueue(jobs, NOW)
    claimed = await store.claim(owner="o", commands=["c"], named=False, limit=100, now=NOW)
    await store.finish(
        [Transition(job_id=j.id, state=JobState.COMPLETED, owner_guard="o") for j in claimed],
        [],
        NOW,
    )
    assert await store.archive_finished(NOW, 100) == len(jobs)


async def archived_month(directory: Path) -> Path:
    """A store whose month file holds 40 completed jobs, one in four tagged and with a ref
    id (`t3`, `r3`, ...)."""
    store = SqliteStore(str(directory))
    try:
        await complete_and_archive(
            store,
            [job(f"t{i}", f"r{i}") if i % 4 == 3 else job() for i in range(40)],
        )
    finally:
        await store.close()
    return Path(month_path(str(directory), month_of(NOW)))


async def test_the_nullable_columns_index_only_the_jobs_that_set_them(tmp_path: Path) -> None:
    conn = sqlite3.connect(await archived_month(tmp_path))
    try:
        for table in ("completed_job", "failed_job"):
            partial = {
                name.removeprefix(f"ix_{table}_"): flag
                for _, name, _, _, flag in conn.execute(f"PRAGMA index_list({table})")
            }
            assert partial == {
                "tag": 1, "batch_id": 1, "created_by": 1, "user_id": 1, "ref_id": 1,
                "command": 0, "state": 0, "queue": 0,
            }  # fmt: skip
        tagged = conn.execute(
            "SELECT count(*) FROM completed_job INDEXED BY ix_completed_job_tag "
            "WHERE tag IS NOT NULL"
        ).fetchone()[0]
        assert tagged == 10
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("tag:t7", [8]),
        ("tag:t7,t11", [12, 8]),
        ("tag:t1*", [20, 16, 12]),
        ("ref:r3", [4]),
        ("ref:*", [40, 36, 32, 28, 24, 20, 16, 12, 8, 4]),
    ],
)
async def test_filters_on_them_find_their_jobs_through_the_index(
    tmp_path: Path, text: str, ids: list[int]
) -> None:
    conn = sqlite3.connect(await archived_month(tmp_path))
    try:
        query = JobQuery.parse(text)
        source = search.Source(conn, "completed_job", month_file=True)
        page = search.page_of(source, query, None, 50)
        assert [j.id for j in page.items] == ids
        where = job_where(query, None, descending=True)
        plan = " ".join(
            row[3]
            for row in conn.execute(
                f"EXPLAIN QUERY PLAN SELECT id FROM completed_job WHERE {where.sql}",
                where.params,
            )
        )
        column = "tag" if text.startswith("tag") else "ref_id"
        assert f"INDEX ix_completed_job_{column}" in plan
    finally:
        conn.close()


async def test_a_month_file_with_full_indexes_keeps_them_and_keeps_working(
    tmp_path: Path,
) -> None:
    """Month files made before keep their full indexes (no migration rebuilds them): jobs
    archived into one later land in them, and filters find those jobs too."""
    path = await archived_month(tmp_path)
    conn = sqlite3.connect(path)
    for table in ("completed_job", "failed_job"):
        conn.execute(f"DROP INDEX ix_{table}_tag")
        conn.execute(f"CREATE INDEX ix_{table}_tag ON {table}(tag, id)")
    conn.commit()
    conn.close()
    store = SqliteStore(str(tmp_path))
    try:
        await complete_and_archive(store, [job("t7"), job()])
        page = await store.list_archive(
            month_of(NOW), JobState.COMPLETED, JobQuery.parse("tag:t7"), None, 50
        )
    finally:
        await store.close()
    assert [j.id for j in page.items] == [41, 8]
    conn = sqlite3.connect(path)
    try:
        partial = {
            name: flag for _, name, _, _, flag in conn.execute("PRAGMA index_list(completed_job)")
        }
        entries = conn.execute(
            "SELECT count(*) FROM completed_job INDEXED BY ix_completed_job_tag"
        ).fetchone()[0]
    finally:
        conn.close()
    assert partial["ix_completed_job_tag"] == 0
    assert entries == 42
