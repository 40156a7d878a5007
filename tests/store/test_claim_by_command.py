"""A claim reads only the ready jobs of the commands its engine runs: a backlog of another
command's jobs costs it nothing (before the ready index had a command column, every claim
stepped over all of them). Measured in SQLite virtual-machine steps, not time: the same
claim with and without 20,000 such jobs queued. Also the v6 -> v7 migration of the index."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobs_core.store.protocol import NewJob
from jobs_core.store.sqlite import claims
from jobs_core.store.sqlite.schema import LATEST_VERSION
from jobs_core.store.sqlite.store import SqliteStore
from tests.store.old_stores import downgrade_summaries

NOW = 1_764_000_000_000
BACKLOG = 20_000


async def seed(directory: Path, counts: dict[tuple[str, str], int]) -> None:
    """Queue `n` jobs of each (command, worker) in a store at `directory`."""
    store = SqliteStore(str(directory))
    try:
        for (command, worker), n in counts.items():
            await store.enqueue(
                [
                    NewJob(command=command, request_type="dict", request_body="{}",
                           worker=worker, run_after=NOW, retry_limit=2, timeout_secs=60.0)
                    for _ in range(n)
                ],
                NOW,
            )  # fmt: skip
    finally:
        await store.close()


def steps(directory: Path, work: Callable[[sqlite3.Connection], Any]) -> tuple[int, Any]:
    """(SQLite VM steps in thousands, result) of `work` in a transaction rolled back."""
    conn = sqlite3.connect(directory / "jobs.db", isolation_level=None)
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.set_progress_handler(tick, 1000)
        result = work(conn)
        conn.set_progress_handler(None, 0)
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    return count[0], result


def claim(named: bool, several: bool) -> Callable[[sqlite3.Connection], Any]:
    def run(conn: sqlite3.Connection) -> Any:
        commands = ["mine", "also_mine"] if several else ["mine"]
        found = claims.made(
            claims.claim(conn, owner="o", commands=commands, named=named, limit=100, now=NOW)
        )
        return sorted((j.command, j.worker) for j in found)

    return run


async def test_a_claim_never_reads_a_backlog_of_commands_its_engine_does_not_run(
    tmp_path: Path,
) -> None:
    mine = {("mine", ""): 150, ("mine", "solo"): 1}
    await seed(tmp_path / "empty", mine)
    # The backlog is older, so it comes first in the ready index's order.
    await seed(tmp_path / "full", {("other", ""): BACKLOG, ("other", "solo"): BACKLOG, **mine})
    for named, several in ((False, False), (False, True), (True, True)):
        empty, claimed = steps(tmp_path / "empty", claim(named, several))
        full, same = steps(tmp_path / "full", claim(named, several))
        assert same == claimed and len(claimed) == (1 if named else 100)
        # Stepping over 20,000 rows costs ~260 thousand steps; the claim itself ~35.
        assert full <= empty + 5, (named, several, empty, full)


async def test_next_due_reads_one_entry_per_command_and_priority_not_the_backlog(
    tmp_path: Path,
) -> None:
    await seed(tmp_path / "empty", {("mine", ""): 1})
    await seed(tmp_path / "full", {("other", ""): BACKLOG, ("mine", ""): 1})
    empty, due = steps(tmp_path / "empty", lambda conn: claims.next_due(conn, NOW))
    full, due_too = steps(tmp_path / "full", lambda conn: claims.next_due(conn, NOW))
    assert due is None and due_too is None
    assert full <= empty + 5, (empty, full)


def ready_index_columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[2] for row in conn.execute("PRAGMA index_info(ix_job_ready)")]


async def test_a_v6_store_gets_the_ready_index_by_command_and_its_jobs_still_run(
    tmp_path: Path,
) -> None:
    await seed(tmp_path, {("mine", ""): 3})
    downgrade_summaries(tmp_path / "jobs.db")
    with sqlite3.connect(tmp_path / "jobs.db") as conn:  # the index as v6 made it
        conn.execute("DROP INDEX ix_job_ready")
        conn.execute(
            "CREATE INDEX ix_job_ready ON background_job(worker, queue, priority DESC, "
            "run_after, id) WHERE state = 'queued' AND waiting_on IS NULL AND key_parked = 0"
        )
        conn.execute("PRAGMA user_version = 6")
    assert "command" not in ready_index_columns(tmp_path / "jobs.db")
    store = SqliteStore(str(tmp_path))
    try:
        found = await store.claim(owner="o", commands=["mine"], named=False, limit=10, now=NOW)
    finally:
        await store.close()
    assert len(found) == 3
    assert ready_index_columns(tmp_path / "jobs.db") == [
        "worker", "queue", "command", "priority", "run_after", "id"
    ]  # fmt: skip
    with sqlite3.connect(tmp_path / "jobs.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION == 12
