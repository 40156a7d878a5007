"""Schemas v2 to v6: a v1 live store is migrated when opened; month files written by v1 still
read, and are migrated when the archiver writes to them again."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from jobs_core import BackgroundJobs, JobContext, JobFilter, JobState, ManualClock
from jobs_core.store.sqlite.month_schema import MONTH_VERSION
from jobs_core.store.sqlite.schema import JOB_COLUMNS_HISTORY, LATEST_VERSION
from tests.conftest import FAST
from tests.store.old_stores import downgrade_summaries


def app(directory: Path, clock: ManualClock) -> BackgroundJobs:
    jobs = BackgroundJobs(str(directory), settings=FAST, clock=clock, start_engine=False)

    @jobs.command
    async def report(req: dict[str, bool] | None, ctx: JobContext) -> str:
        ctx.log.info("done")
        if req and req.get("fail"):
            raise ValueError("no")
        return "ok"

    return jobs


FLOW_COLUMNS = (
    "queue", "priority", "expires_at", "concurrency_key", "concurrency_limit", "unique_key",
    "retry_policy",
)  # fmt: skip


BATCH_COLUMNS = (
    "number", "name", "on_complete", "on_success", "meta", "declared_total", "joined",
    "completed", "failed", "cancelled", "closed_at", "finished_at", "callback_ids",
)  # fmt: skip


def downgrade_history(path: Path) -> None:
    """Make `jobs.db` what version 5 wrote (flow control, before the history)."""
    downgrade_summaries(path)
    with sqlite3.connect(path) as conn:
        for column in JOB_COLUMNS_HISTORY:
            conn.execute(f"ALTER TABLE background_job DROP COLUMN {column}")
        for table in ("job_attempt", "job_dependency", "job_maintenance"):
            conn.execute(f"DROP TABLE {table}")
        for column in ("overlap", "start_at", "end_at", "max_runs", "run_count", "ended_at"):
            conn.execute(f"ALTER TABLE scheduled_task DROP COLUMN {column}")
        conn.execute("DROP INDEX ux_batch_number")
        for column in BATCH_COLUMNS:
            conn.execute(f"ALTER TABLE job_batch DROP COLUMN {column}")
        conn.execute("CREATE INDEX ix_job_owner ON background_job(owner) WHERE owner IS NOT NULL")
        # Before the history, a job's engine was forgotten once it stopped running.
        conn.execute("UPDATE background_job SET owner = NULL WHERE state <> 'started'")
        conn.execute("PRAGMA user_version = 5")
    conn.close()


def downgrade_live(path: Path) -> None:
    """Make `jobs.db` what version 1 of jobs wrote."""
    downgrade_history(path)
    with sqlite3.connect(path) as conn:
        for index in ("ix_job_ready", "ix_job_running", "ix_job_key_running", "ix_job_key_ready",
                      "ix_job_key_parked", "ix_job_expires", "ux_job_unique"):  # fmt: skip
            conn.execute(f"DROP INDEX {index}")
        for column in (*FLOW_COLUMNS, "key_parked"):
            conn.execute(f"ALTER TABLE background_job DROP COLUMN {column}")
        for table in ("job_queue", "queue_start", "queue_minute"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute(
            "CREATE INDEX ix_job_claim ON background_job(worker, run_after, id) "
            "WHERE state = 'queued' AND waiting_on IS NULL"
        )
        conn.execute(
            "CREATE INDEX ix_job_busy_worker ON background_job(worker) WHERE state = 'started'"
        )
        conn.execute("ALTER TABLE background_job DROP COLUMN logs_truncated")
        conn.execute("DROP TABLE job_batch")
        conn.execute("DROP TABLE job_command")
        conn.execute("ALTER TABLE engine DROP COLUMN lost_reason")
        conn.execute("DROP TABLE job_id_floor")
        conn.execute("DROP TABLE command_minute")
        conn.execute("PRAGMA user_version = 1")
    conn.close()


def downgrade_month_history(path: Path) -> None:
    """Make a month database what version 3 wrote (flow control, before the history)."""
    with sqlite3.connect(path) as conn:
        for table in ("completed_job", "failed_job"):
            conn.execute(f"DROP TRIGGER {table}_delete_text")
            for column in JOB_COLUMNS_HISTORY:
                conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
            conn.execute(f"UPDATE {table} SET owner = NULL")
        conn.execute("DROP TABLE job_attempt")
        conn.execute("DROP TABLE job_text")
        conn.execute("PRAGMA user_version = 3")
    conn.close()


def downgrade_month(path: Path) -> None:
    """Make a month database what version 1 of jobs wrote."""
    downgrade_month_history(path)
    with sqlite3.connect(path) as conn:
        for table in ("completed_job", "failed_job"):
            conn.execute(f"DROP INDEX ix_{table}_queue")
            for column in ("logs_truncated", *FLOW_COLUMNS):
                conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
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
    assert {*FLOW_COLUMNS, "key_parked"} <= set(columns(tmp_path / "jobs.db", "background_job"))
    archived = (await jobs.get_job(old.id)).completed
    assert archived is not None and archived.logs.endswith("done\n")
    assert archived.logs_truncated is False
    assert (archived.queue, archived.priority, archived.concurrency_limit) == ("default", 0, 1)
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
    assert set(FLOW_COLUMNS) <= set(columns(tmp_path / "jobs_2026-10.db", "completed_job"))
    assert version(tmp_path / "jobs_2026-10.db") == MONTH_VERSION == 4
    assert version(tmp_path / "jobs.db") == LATEST_VERSION == 12


async def test_a_store_of_the_flow_control_schema_gains_the_history(tmp_path: Path) -> None:
    """Live v5 and month v3 (what the version before the history wrote) migrate to the
    history's: batch counters are counted from the summaries, archived jobs become
    searchable, and a job there keeps its history from the migration on."""
    clock = ManualClock(datetime(2026, 10, 30, 12, 0, tzinfo=UTC))
    jobs = app(tmp_path, clock)
    async with jobs:
        archived = await jobs.enqueue("report", batch_id="b1")
        failed = await jobs.enqueue("report", request={"fail": True}, retry_limit=0)
        await jobs.engine.run_until_idle()  # both moved to jobs_2026-10.db
        waiting = await jobs.enqueue("report", batch_id="b1", queue="slow", priority=3)
    downgrade_history(tmp_path / "jobs.db")
    downgrade_month_history(tmp_path / "jobs_2026-10.db")

    jobs = app(tmp_path, clock)
    async with jobs:
        status = await jobs.batch_status("b1")
        assert (status.total, status.counts) == (2, {JobState.COMPLETED: 1, JobState.QUEUED: 1})
        await jobs.run_until_idle()
        found = await jobs.search("report")
        attempts = await jobs.attempts(waiting.id)
        # Its row, written before the history, holds the attempt that failed it.
        [before] = await jobs.attempts(failed.id)
        queued = (await jobs.get_job(waiting.id)).completed
    assert [j.id for j in found.items] == [waiting.id, failed.id, archived.id]
    assert (before.number, before.outcome.value, before.error.code) == (1, "failed", "ValueError")
    assert [(a.number, a.outcome.value) for a in attempts] == [(1, "completed")]
    assert queued is not None and (queued.queue, queued.priority) == ("slow", 3)
    assert version(tmp_path / "jobs.db") == LATEST_VERSION
    assert version(tmp_path / "jobs_2026-10.db") == MONTH_VERSION


def summary_ids(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        found = [row[0] for row in conn.execute("SELECT id FROM job_summary ORDER BY id")]
    conn.close()
    return found


async def test_a_v7_store_keeps_the_summaries_of_archived_jobs_only(tmp_path: Path) -> None:
    """v7 wrote a summary row for every job at enqueue; v8 writes it when the job is
    archived. The migration drops the summaries of jobs still live, and every lookup finds
    live and archived jobs alike."""
    clock = ManualClock(datetime(2026, 10, 30, 12, 0, tzinfo=UTC))
    jobs = app(tmp_path, clock)
    async with jobs:
        archived = await jobs.enqueue("report", ref_id="old", batch_id="b1")
        await jobs.engine.run_until_idle()  # moved to jobs_2026-10.db
        live = await jobs.enqueue("report", ref_id="new", batch_id="b1", parent_id=archived.id)
    downgrade_summaries(tmp_path / "jobs.db")
    assert summary_ids(tmp_path / "jobs.db") == [archived.id, live.id]

    jobs = app(tmp_path, clock)  # opening migrates
    assert summary_ids(tmp_path / "jobs.db") == [archived.id]
    assert version(tmp_path / "jobs.db") == LATEST_VERSION
    found = await jobs.get_job_by_ref("new")
    assert found.summary.id == live.id and found.summary.state is JobState.QUEUED
    again = await jobs.enqueue("report", ref_id="new", on_conflict="return_existing")
    old = await jobs.enqueue("report", ref_id="old", on_conflict="return_existing")
    assert (again.id, old.id) == (live.id, archived.id)
    assert [c.id for c in await jobs.children(archived.id)] == [live.id]
    status = await jobs.batch_status("b1")
    assert status.counts == {JobState.COMPLETED: 1, JobState.QUEUED: 1}
    async with jobs:
        await jobs.run_until_idle()
        status = await jobs.batch_status("b1")
        assert (await jobs.enqueue("report")).id == live.id + 1
    assert status.counts == {JobState.COMPLETED: 2}
    assert summary_ids(tmp_path / "jobs.db") == [archived.id, live.id]
