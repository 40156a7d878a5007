"""Deleting a job deletes its attempt rows too (no row is left that nothing points to)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from jobs_core import Settings
from jobs_core.store.opening import open_store
from jobs_core.store.protocol import EngineRegistration, NewJob, Store


async def lost_twice(store: Store) -> int:
    """A job whose first attempt was lost (an attempt row) and whose second ended it."""
    job = NewJob(command="c", request_type="", request_body="null", worker="", run_after=0,
                 retry_limit=1, timeout_secs=60)  # fmt: skip
    (job_id,) = await store.enqueue([job], now=1_000)
    for now in (1_000, 3_000):
        engine = EngineRegistration(id=f"far:{now}:aa", host="far", pid=now, workers=[],
                                    commands=["c"], concurrency=1)  # fmt: skip
        await store.register_engine(engine, now=now, lease_ms=1_000)
        await store.claim(owner=engine.id, commands=["c"], named=False, limit=1, now=now)
        assert await store.recover_lost(now=now + 1_001, dead=[]) == [job_id]
    assert len(await store.attempts(job_id)) == 2
    return job_id


async def test_deleting_a_job_not_archived_yet_deletes_its_attempt_rows(tmp_path: Path) -> None:
    store = open_store(str(tmp_path), Settings())
    job_id = await lost_twice(store)
    outcome = await store.delete_jobs([job_id], now=5_000)
    await store.close()
    assert outcome.done == [job_id]
    with sqlite3.connect(tmp_path / "jobs.db") as conn:
        assert conn.execute("SELECT count(*) FROM job_attempt").fetchone()[0] == 0
    conn.close()
