"""Opening a store: creation, schema version, and clear errors for bad locations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jobs_core import BackgroundJobs, SchemaTooNewError, StoreError, StoreNotFoundError
from jobs_core.store.sqlite.connection import LIVE_PAGE_SIZE
from jobs_core.store.sqlite.schema import LATEST_VERSION


async def test_new_store_uses_wal_and_latest_schema(tmp_path: Path) -> None:
    jobs = BackgroundJobs(str(tmp_path / "data"))
    await jobs.close()
    conn = sqlite3.connect(tmp_path / "data" / "jobs.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"background_job", "job_summary", "engine", "scheduled_task"} <= tables


async def test_a_new_store_has_2_kb_pages_and_an_older_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    jobs = BackgroundJobs(str(tmp_path / "new"))
    await jobs.close()
    new = sqlite3.connect(tmp_path / "new" / "jobs.db")
    assert new.execute("PRAGMA page_size").fetchone()[0] == LIVE_PAGE_SIZE == 2048
    # A store created before (SQLite's default 4 KB pages) opens and works as it is.
    (tmp_path / "old").mkdir()
    old = sqlite3.connect(tmp_path / "old" / "jobs.db")
    old.execute("PRAGMA page_size = 4096")
    old.execute("PRAGMA journal_mode = WAL")
    old.close()
    jobs = BackgroundJobs(str(tmp_path / "old"))
    jobs.command(name="item")(lambda req: None)
    ref = await jobs.enqueue("item", {"n": 1})
    assert (await jobs.get_job(ref.id)).job is not None
    await jobs.close()
    old = sqlite3.connect(tmp_path / "old" / "jobs.db")
    assert old.execute("PRAGMA page_size").fetchone()[0] == 4096


async def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    first = BackgroundJobs(str(tmp_path))

    @first.command
    async def noop() -> None:
        return None

    ref = await first.enqueue("noop")
    await first.close()
    second = BackgroundJobs(str(tmp_path), create=False)
    assert (await second.get_job(ref.id)).summary.command == "noop"
    await second.close()


def test_missing_directory_is_refused_when_not_creating(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFoundError, match=f"{tmp_path / 'nope'} does not exist"):
        BackgroundJobs(str(tmp_path / "nope"), create=False)


def test_directory_without_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFoundError, match=r"is not a jobs store \(it has no jobs\.db\)"):
        BackgroundJobs(str(tmp_path), create=False)


def test_file_in_place_of_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreNotFoundError, match="is not a directory"):
        BackgroundJobs(str(tmp_path / "f"))


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "jobs.db")
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNewError, match=f"has schema version {LATEST_VERSION + 1}, newer"):
        BackgroundJobs(str(tmp_path))


def test_corrupt_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "jobs.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match=r"jobs\.db is corrupt or not an SQLite database"):
        BackgroundJobs(str(tmp_path))


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "jobs.db")
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.close()
    with pytest.raises(StoreError, match="is an SQLite database but not a jobs store"):
        BackgroundJobs(str(tmp_path))


def test_an_emptied_jobs_db_beside_month_databases_is_refused(tmp_path: Path) -> None:
    # A truncated jobs.db (0 bytes) opened as new would number jobs from 1 again, under the
    # archived ones in the month databases, and hide that the live jobs were lost.
    (tmp_path / "jobs.db").write_bytes(b"")
    sqlite3.connect(tmp_path / "jobs_2026-10.db").close()
    (tmp_path / "jobs_2026-11.db").write_bytes(b"")
    lost = r"jobs\.db is empty, but the store has month databases \(2026-10, 2026-11\): its live"
    for create in (True, False):
        with pytest.raises(StoreError, match=lost):
            BackgroundJobs(str(tmp_path), create=create)
    assert (tmp_path / "jobs.db").stat().st_size == 0


async def test_an_empty_jobs_db_is_a_store_being_created(tmp_path: Path) -> None:
    # SQLite opens an empty file as a new database: a creator that stopped before its
    # schema (or one racing another) left it; creating finishes it, reading refuses it.
    (tmp_path / "jobs.db").write_bytes(b"")
    with pytest.raises(StoreNotFoundError, match=r"jobs\.db is empty: .* not a jobs store yet"):
        BackgroundJobs(str(tmp_path), create=False)
    with pytest.raises(StoreNotFoundError, match="not a jobs store yet"):
        BackgroundJobs(str(tmp_path), create=False, read_only=True)
    jobs = BackgroundJobs(str(tmp_path))
    await jobs.close()
    reader = BackgroundJobs(str(tmp_path), create=False)
    assert await reader.count_jobs("") == 0
    await reader.close()
