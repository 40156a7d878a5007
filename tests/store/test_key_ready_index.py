"""The index of ready keyed jobs (`ix_job_key_ready`) holds them in id order since v9 (by
key before): a claim reads it only for whether any keyed job is ready, and in id order a
batch's keyed jobs are appended together and a claim's taken from the front, where by key
each one was written at its key's place. What the claims decide is unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from jobs_core.store.protocol import NewJob
from jobs_core.store.sqlite.store import SqliteStore
from tests.store.old_stores import downgrade_key_ready

NOW = 1_764_000_000_000


def job(key: str | None) -> NewJob:
    return NewJob(command="step", request_type="dict", request_body="{}", worker="",
                  run_after=NOW, retry_limit=2, timeout_secs=60.0, concurrency_key=key)  # fmt: skip


def index_columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        found = [row[2] for row in conn.execute("PRAGMA index_info(ix_job_key_ready)")]
    conn.close()
    return found


def index_pages(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        (pages,) = conn.execute(
            "SELECT count(*) FROM dbstat WHERE name = 'ix_job_key_ready'"
        ).fetchone()
    conn.close()
    return int(pages)


async def test_a_v8_store_gets_the_index_in_id_order_and_keys_still_hold(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path))
    try:
        ids = await store.enqueue([job("user:1"), job("user:1"), job(None)], NOW)
    finally:
        await store.close()
    downgrade_key_ready(tmp_path / "jobs.db")
    assert index_columns(tmp_path / "jobs.db") == ["concurrency_key"]

    store = SqliteStore(str(tmp_path))  # opening migrates
    try:
        # The default queue has no limit and one pair: only the index tells the claim
        # that a key must be checked (else one statement would start both of user:1).
        claimed = await store.claim(owner="o", commands=["step"], named=False, limit=10, now=NOW)
    finally:
        await store.close()
    assert index_columns(tmp_path / "jobs.db") == ["key_parked"]
    assert sorted(j.id for j in claimed) == [ids[0], ids[2]]


async def test_a_batch_of_keyed_jobs_fills_the_pages_of_the_index_in_turn(
    tmp_path: Path,
) -> None:
    # 2,000 keys, one job each, in an order unlike their keys' (as users come): by key,
    # each entry went to its key's place and split pages half full (~18 pages).
    keys = [f"user:{(i * 7919) % 2000}" for i in range(2000)]
    store = SqliteStore(str(tmp_path))
    try:
        await store.enqueue([job(key) for key in keys], NOW)
    finally:
        await store.close()
    assert index_pages(tmp_path / "jobs.db") <= 10
