"""Schemas v2 to v4: a v1 live store is migrated when opened; month files written by v1 still
read, and are migrated when the archiver writes to them again."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from jobs_core import BackgroundJobs, JobContext, JobFilter, JobState, ManualClock
from jobs_core.store.sqlite.schema import JOB_COLUMNS_V3, LATEST_VERSION, MONTH_VERSION
from tests.conftest import FAST


def app(directory: Path, clock: ManualClock) -> BackgroundJobs:
    jobs = BackgroundJobs(str(directory), settings=FAST, clock=clock, start_engine=False)

    @jobs.command
    async def report(ctx: JobContext) -> str:
        ctx.log.info("done")
        return "ok"

    return jobs


def downgrade_live(path: Path) -> None:
    """Make `jobs.db` what version 1 of jobs wrote."""
    with sqlite3.connect(path) as conn:
        for column in ("logs_truncated", *JOB_COLUMNS_V3):
            conn.execute(f"ALTER TABLE background_job DROP COLUMN {column}")
        for table in ("job_attempt", "job_dependency", "job_maintenance"):
            conn.execute(f"DROP TABLE {table}")
        for column in ("overlap", "start_at", "end_at", "max_runs", "run_count", "ended_at"):
            conn.execute(f"ALTER TABLE scheduled_task DROP COLUMN {column}")
        conn.execute("CREATE INDEX ix_job_owner ON background_job(owner) WHERE owner IS NOT NULL")
        conn.execute("DROP TABLE job_batch")
        conn.execute("DROP TABLE job_command")
        conn.execute("ALTER TABLE engine DROP COLUMN lost_reason")
        conn.execute("DROP TABLE job_id_floor")
        conn.execute("DROP TABLE command_minute")
        conn.execute("PRAGMA user_version = 1")
    conn.close()


def downgrade_month(path: Path) -> None:
    """Make a month database what version 1 of jobs wrote."""
    with sqlite3.connect(path) as conn:
        for table in ("completed_job", "failed_job"):
            conn.execute(f"DROP TRIGGER {table}_delete_text")
            for column in ("logs_truncated", *JOB_COLUMNS_V3):
                conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.execute("DROP TABLE job_attempt")
        conn.execute("DROP TABLE job_text")
        conn.execute("PRAGMA user_version = 1")
    conn.close()


def version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def columns(path: Path, table: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        found = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    conn.close()
    return found


async def test_v1_store_and_month_files_read_and_migrate(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 10, 30, 12, 0, tzinfo=UTC))
    jobs = app(tmp_path, clock)
    async with jobs:
        old = await jobs.enqueue("report")
        waiting = await jobs.enqueue("report", batch_id="b1")
        await jobs.engine.run_until_idle()  # both complete and move to jobs_2026-10.db
        await jobs.enqueue("report")
    downgrade_live(tmp_path / "jobs.db")
    downgrade_month(tmp_path / "jobs_2026-10.db")

    jobs = app(tmp_path, clock)  # opening migrates the live store at once
    assert "logs_truncated" in columns(tmp_path / "jobs.db", "background_job")
    archived = (await jobs.get_job(old.id)).completed
    assert archived is not None and archived.logs.endswith("done\n")
    assert archived.logs_truncated is False
    page = await jobs.list_completed("2026-10", JobFilter(batch_id="b1"))
    assert [j.id for j in page.items] == [waiting.id]
    async with jobs:
        await jobs.run_until_idle()  # the third job is archived into the v1 month file
        # v4's per-command tallies count the job that finished after the migration
        [figures] = await jobs.command_figures()
        assert (figures.command, figures.completed) == ("report", 1)
    jobs = app(tmp_path, clock)
    page = await jobs.list_completed("2026-10")
    assert [j.id for j in page.items] == [3, 2, 1]
    assert all(j.state is JobState.COMPLETED and not j.logs_truncated for j in page.items)
    await jobs.delete(3)  # v4's id floor: the newest id is not given again
    assert (await jobs.enqueue("report")).id == 4
    await jobs.close()
    assert "logs_truncated" in columns(tmp_path / "jobs_2026-10.db", "completed_job")
    assert version(tmp_path / "jobs_2026-10.db") == MONTH_VERSION == 3
    assert version(tmp_path / "jobs.db") == LATEST_VERSION == 5
