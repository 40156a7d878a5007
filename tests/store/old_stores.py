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


def downgrade_summaries(path: Path) -> None:
    """Make `jobs.db` what version 7 wrote: a summary row for every job, live ones too,
    and no lookups on the live table."""
    with sqlite3.connect(path) as conn:
        conn.execute(V7_SUMMARIES)
        for index in ("ux_job_ref_id", "ix_job_parent", "ix_job_depends", "ix_job_batch"):
            conn.execute(f"DROP INDEX {index}")
        conn.execute("PRAGMA user_version = 7")
    conn.close()
