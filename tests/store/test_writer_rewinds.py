"""A RESTART the checkpointer could not make (the lock or a reader kept it out) is made by
the store's writer just after its next commit (`Checkpointer.rewind`): the WAL starts over
and commits overwrite it instead of appending."""

from __future__ import annotations

import itertools
import os
import sqlite3
from dataclasses import replace

import pytest

from jobs_core import BackgroundJobs, Durability
from jobs_core.store.sqlite import checkpointer
from tests.conftest import FAST, MakeJobs
from tests.store.test_checkpointer import rewinds

LIMIT = 64 * 1024


_REF_IDS = itertools.count()


def written() -> dict[str, str]:
    """The option of a job written to `jobs.db`: a fresh ref_id, looked up as it is inserted
    (a plain job goes to the inbox)."""
    return {"ref_id": f"written-{next(_REF_IDS)}"}


async def filled(jobs: BackgroundJobs, wal: str) -> int:
    """Enqueue until the WAL holds twice its limit; how many jobs that took."""
    enqueued = 0
    while os.path.getsize(wal) < 2 * LIMIT:
        await jobs.enqueue("item", {"pad": "x" * 3000}, **written())
        enqueued += 1
    return enqueued


def checkpoint_beside_a_reader(jobs: BackgroundJobs, path: str) -> sqlite3.Connection:
    """One round of the store's checkpointer (made here, on a connection of its own) while
    a reader is inside the WAL, which keeps its RESTART from starting it over; returns the
    reader, still reading."""
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM background_job").fetchone()
    own = sqlite3.connect(path, isolation_level=None)
    try:
        jobs.store._checkpointer._maybe_checkpoint(own)  # type: ignore[attr-defined]
    finally:
        own.close()
    return reader


async def test_the_next_commit_rewinds_the_wal_the_checkpointer_could_not(
    make_jobs: MakeJobs, store_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpointer, "WAL_LIMIT_BYTES", LIMIT)
    monkeypatch.setattr(checkpointer, "CHECK_SECS", 3600.0)  # its rounds are made here
    jobs = make_jobs(start_engine=False, settings=replace(FAST, durability=Durability.FULL))
    jobs.command(name="item")(lambda req: None)
    path = os.path.join(store_dir, "jobs.db")
    wal = path + "-wal"
    enqueued = await filled(jobs, wal)
    before = rewinds(wal)
    ckp = jobs.store._checkpointer  # type: ignore[attr-defined]
    assert ckp is not None

    reader = checkpoint_beside_a_reader(jobs, path)
    assert ckp.rewind_tries == checkpointer.REWIND_TRIES
    await jobs.enqueue(
        "item", {"n": 1}, **written()
    )  # still reading: this commit's RESTART fails too
    assert ckp.rewind_tries == checkpointer.REWIND_TRIES - 1
    reader.execute("COMMIT")
    reader.close()

    await jobs.enqueue("item", {"n": 2}, **written())  # its commit rewinds
    assert ckp.rewind_tries == 0
    size = os.path.getsize(wal)
    await jobs.enqueue(
        "item", {"n": 3}, **written()
    )  # the first commit after it writes from the start
    assert rewinds(wal) == before + 1
    assert os.path.getsize(wal) == size  # overwritten, not appended to
    assert await jobs.count_jobs() == enqueued + 3


async def test_a_failed_rewind_never_fails_the_commit_before_it(
    make_jobs: MakeJobs, store_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpointer, "CHECK_SECS", 3600.0)
    jobs = make_jobs(start_engine=False)
    jobs.command(name="item")(lambda req: None)
    ckp = jobs.store._checkpointer  # type: ignore[attr-defined]
    ckp.rewind_tries = 1

    calls: list[str] = []
    real_rewind = checkpointer.Checkpointer.rewind

    def rewind_on_a_closed_connection(self: checkpointer.Checkpointer, conn: object) -> None:
        closed = sqlite3.connect(":memory:")
        closed.close()
        calls.append("rewind")
        real_rewind(self, closed)  # raises ProgrammingError inside: must be dropped

    monkeypatch.setattr(checkpointer.Checkpointer, "rewind", rewind_on_a_closed_connection)
    ref = await jobs.enqueue("item", {"n": 1})
    assert calls == ["rewind"] and ckp.rewind_tries == 0
    assert (await jobs.get_job(ref.id)) is not None


async def test_at_normal_the_writer_leaves_the_rewind_to_the_checkpointer(
    make_jobs: MakeJobs, store_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No commit on the event loop waits for an fsync at NORMAL: the RESTART (which syncs the
    database file) stays in the checkpointer's thread."""
    monkeypatch.setattr(checkpointer, "WAL_LIMIT_BYTES", LIMIT)
    monkeypatch.setattr(checkpointer, "CHECK_SECS", 3600.0)
    jobs = make_jobs(start_engine=False)
    jobs.command(name="item")(lambda req: None)
    path = os.path.join(store_dir, "jobs.db")
    wal = path + "-wal"
    await filled(jobs, wal)
    before = rewinds(wal)
    ckp = jobs.store._checkpointer  # type: ignore[attr-defined]
    reader = checkpoint_beside_a_reader(jobs, path)
    assert ckp.rewind_tries == 0
    await jobs.enqueue("item", {"n": -1})  # frames past the copy: SQLite cannot rewind alone
    reader.execute("COMMIT")
    reader.close()
    for n in range(3):
        await jobs.enqueue("item", {"n": n})
    assert rewinds(wal) == before
