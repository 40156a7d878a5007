"""Live stores as an older version of jobs left them, for the migration tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from jobs_core.store.rows import SUMMARY_SELECT

V7_SUMMARIES = f"""
INSERT INTO job_summary ({SUMMARY_SELECT})
SELECT id, command, state, worker, parent_id, depends_on, ref_id, tag, batch_id, created_by,
    user_id, callback, request_type, response_type, created_date, started_date,
    completed_date, duration_ms, attempts, json_extract(error, '$.code'),
    json_extract(error, '$.message')
FROM background_job
"""
"""The summaries v7 kept of live jobs: written at enqueue, updated by each claim and finish
(these columns of the row, as its `SUMMARY_FROM_JOBS` copied them)."""


V8_KEY_READY = """
CREATE INDEX ix_job_key_ready ON background_job(concurrency_key)
    WHERE state = 'queued' AND concurrency_key IS NOT NULL AND waiting_on IS NULL
      AND key_parked = 0
"""
"""The index of ready keyed jobs as versions 5 to 8 made it: by key."""


def downgrade_inbox(path: Path) -> None:
    """Make `jobs.db` what version 9 wrote: no inbox mark (its jobs all in `jobs.db`: the
    store that enqueued them moved them in as it closed)."""
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM inbox_mark").fetchone()[0] == 1
        conn.execute("DROP TABLE inbox_mark")
        conn.execute("PRAGMA user_version = 9")
    conn.close()


def downgrade_key_ready(path: Path) -> None:
    """Make `jobs.db` what version 8 wrote: the ready keyed jobs indexed by key."""
    downgrade_inbox(path)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX ix_job_key_ready")
        conn.execute(V8_KEY_READY)
        conn.execute("PRAGMA user_version = 8")
    conn.close()


def downgrade_summaries(path: Path) -> None:
    """Make `jobs.db` what version 7 wrote: a summary row for every job, live ones too,
    and no lookups on the live table."""
    downgrade_key_ready(path)
    with sqlite3.connect(path) as conn:
        conn.execute(V7_SUMMARIES)
        for index in ("ux_job_ref_id", "ix_job_parent", "ix_job_depends", "ix_job_batch"):
            conn.execute(f"DROP INDEX {index}")
        conn.execute("PRAGMA user_version = 7")
    conn.close()
