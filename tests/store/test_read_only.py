"""A store opened read-only: every lookup works, nothing is created, migrated or written."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jobs_core import BackgroundJobs, ManualClock, ReadOnlyStoreError, StoreError
from jobs_core.store.sqlite import connection
from tests.contract.admin.conftest import OCTOBER, build_history
from tests.contract.admin.test_read_only import refuses_every_change


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def store_files(directory: Path) -> set[str]:
    """The store's own files (SQLite's -wal/-shm companions left out)."""
    return {name for name in os.listdir(directory) if not name.endswith(("-wal", "-shm"))}


@pytest.fixture
async def seeded(tmp_path: Path) -> Path:
    clock = ManualClock(OCTOBER)
    jobs = BackgroundJobs(str(tmp_path / "ro"), clock=clock, start_engine=False)
    await build_history(jobs, clock)
    await jobs.stop()
    return tmp_path / "ro"


async def test_read_only_reads_everything_and_writes_nothing(seeded: Path) -> None:
    before = {name: digest(seeded / name) for name in store_files(seeded)}
    jobs = BackgroundJobs(str(seeded), create=False, start_engine=False, read_only=True)
    try:
        assert jobs.read_only
        assert (await jobs.get_job(1)).job is not None
        assert len((await jobs.find_jobs("", limit=100)).items) == 15
        assert await jobs.count_jobs("state:failed") == 3
        assert (await jobs.list_failed("2026-10")).items
        assert await jobs.counts()
        await refuses_every_change(jobs)
    finally:
        await jobs.close()
    assert {name: digest(seeded / name) for name in store_files(seeded)} == before


def test_read_only_creates_no_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        BackgroundJobs(str(tmp_path / "none"), read_only=True)
    assert not (tmp_path / "none").exists()


async def test_read_only_does_not_migrate_an_older_store(seeded: Path) -> None:
    conn = sqlite3.connect(seeded / "jobs.db")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="has schema version 1; this version of jobs needs"):
        BackgroundJobs(str(seeded), create=False, read_only=True)
    check = sqlite3.connect(seeded / "jobs.db")
    assert check.execute("PRAGMA user_version").fetchone()[0] == 1
    check.close()


async def test_read_only_directory_is_read_as_it_is(
    seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copied store in a directory nobody may write to: SQLite cannot create its WAL index
    there, so it is opened immutable. (Simulated: the tests run as root.)"""
    real_connect = sqlite3.connect
    opened: list[str] = []

    def connect(database: str, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(database)
        if "mode=ro" in database and "immutable" not in database:
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(connection.sqlite3, "connect", connect)
    monkeypatch.setattr(connection.os, "access", lambda path, mode: False)
    jobs = BackgroundJobs(str(seeded), create=False, start_engine=False, read_only=True)
    try:
        assert (await jobs.get_job(11)).job is not None
    finally:
        await jobs.close()
    assert any(uri.endswith("?mode=ro&immutable=1") for uri in opened)


def test_read_only_holds_for_the_sync_api_on_its_own_store(tmp_path: Path) -> None:
    """`jobs.sync` opens a store of its own (`Store.reopen()`), and it is read-only too."""
    directory = tmp_path / "ro"
    clock = ManualClock(OCTOBER)

    async def seed() -> None:
        jobs = BackgroundJobs(str(directory), clock=clock, start_engine=False)
        await build_history(jobs, clock)
        await jobs.stop()

    asyncio.run(seed())
    jobs = BackgroundJobs(str(directory), create=False, start_engine=False, read_only=True)
    try:
        assert jobs.sync.count_jobs("state:failed") == 3
        assert [j.id for j in jobs.sync.find_jobs("command:send_email", limit=3).items] == [
            15, 14, 10,
        ]  # fmt: skip
        with pytest.raises(ReadOnlyStoreError):
            jobs.sync.cancel(14)
    finally:
        jobs.sync.close()
        asyncio.run(jobs.close())
