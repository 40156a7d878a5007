"""SQLite leases: a store written before engines recorded why they died still opens."""

from __future__ import annotations

import os
import sqlite3

from jobs_core import EngineState
from jobs_core.store.sqlite.schema import LIVE_MIGRATIONS
from jobs_core.store.sqlite.store import SqliteStore


async def test_store_of_schema_v1_migrates_and_keeps_its_engines(store_dir: str) -> None:
    os.makedirs(store_dir)
    conn = sqlite3.connect(os.path.join(store_dir, "jobs.db"))
    conn.executescript(LIVE_MIGRATIONS[0])
    conn.execute(
        "INSERT INTO engine (id, host, pid, started_at, heartbeat_at, lease_expires_at) "
        "VALUES ('old', 'h', 1, 0, 0, 5000)"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = SqliteStore(store_dir)
    [old] = await store.engines(now=1_000)
    assert (old.id, old.state) == ("old", EngineState.ALIVE)
    await store.stop_engine("old", now=2_000)
    [old] = await store.engines(now=3_000)
    assert (old.state, old.reason) == (EngineState.STOPPED, "stopped cleanly")
    await store.close()
