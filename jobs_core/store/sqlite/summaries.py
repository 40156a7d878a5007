"""Job summaries on SQLite: a live job's is read from its row in `background_job`, an
archived job's from `job_summary`, which gets it in the transaction that removes the live
row (so a job is in exactly one of the two tables).

Nothing on the hot path writes a summary: an enqueue writes the job's row alone (one page
fewer to the WAL a commit), and claims and finishes change that row alone. Readers that
want a job whatever its state read `every_job(condition)`, the two tables as one, the
condition in each arm so that each uses its own index.
"""

from __future__ import annotations

import json
import sqlite3

from jobs_core.records import JobSummary
from jobs_core.store.rows import SUMMARY_SELECT, live_summary_select

from .rows import row_to_summary

LIVE_SUMMARY_SELECT = live_summary_select(lambda key: f"error ->> '$.{key}'")
"""A live job's summary, from its row (in `SUMMARY_FIELDS` order)."""


def every_job(where: str) -> str:
    """A subquery of the summaries of the jobs matching `where`, live or archived
    (`FROM {every_job(...)} AS s`): an SQL condition on columns both tables have
    (`error_code` and `error_message` are the summary's alone). It is written into each arm:
    SQLite does not push a condition holding a subquery into the arms of a UNION ALL, and
    would then scan both tables."""
    return (
        f"(SELECT {LIVE_SUMMARY_SELECT} FROM background_job WHERE {where} "
        f"UNION ALL SELECT {SUMMARY_SELECT} FROM job_summary WHERE {where})"
    )


NEXT_ID = (
    "SELECT max(coalesce((SELECT max(id) FROM background_job), 0), "
    "coalesce((SELECT max(id) FROM job_summary), 0), (SELECT max_id FROM job_id_floor))"
)
"""The largest id ever given: the live rows', the archived summaries', and `job_id_floor`
(the largest deleted one), so an id is never reused even after the newest jobs were
deleted."""

ARCHIVE = f"""
INSERT OR REPLACE INTO job_summary ({SUMMARY_SELECT})
SELECT {LIVE_SUMMARY_SELECT} FROM background_job
WHERE id IN (SELECT value FROM json_each(?)) AND state IN ('completed', 'failed', 'cancelled')
"""
"""The summaries of archived jobs. A row already there with the job's id or ref_id can only
be a stale summary of this same job (ref_ids are unique across jobs), written by a process
of jobs.db v7 still running beside this version during an upgrade: it is replaced."""

DELETE_ARCHIVED = """
DELETE FROM background_job WHERE id IN (SELECT value FROM json_each(?))
AND state IN ('completed', 'failed', 'cancelled')
"""


BY_ID = f"SELECT * FROM {every_job('id = ?1')}"
BY_REF = f"SELECT * FROM {every_job('ref_id = ?1')}"
BY_IDS = f"SELECT * FROM {every_job('id IN (SELECT value FROM json_each(?1))')}"


def summary(conn: sqlite3.Connection, job_id: int) -> JobSummary | None:
    """Job `job_id`'s summary, live or archived."""
    found = conn.execute(BY_ID, (job_id,)).fetchone()
    return row_to_summary(found) if found else None


def summary_by_ref(conn: sqlite3.Connection, ref_id: str) -> JobSummary | None:
    found = conn.execute(BY_REF, (ref_id,)).fetchone()
    return row_to_summary(found) if found else None


def summaries(conn: sqlite3.Connection, job_ids: list[int]) -> dict[int, JobSummary]:
    """The summaries of those of `job_ids` that exist, by id."""
    rows = conn.execute(BY_IDS, (json.dumps(job_ids),)).fetchall()
    return {row[0]: row_to_summary(row) for row in rows}


def archive(conn: sqlite3.Connection, ids: str) -> None:
    """Move the finished jobs among `ids` (a JSON list; their month rows are written) out of
    the live table: their summaries written, their rows deleted, in the caller's
    transaction. A job requeued meanwhile is not finished, and stays."""
    conn.execute(ARCHIVE, (ids,))
    conn.execute(DELETE_ARCHIVED, (ids,))


def unarchive(conn: sqlite3.Connection, job_ids: list[int]) -> None:
    """Forget the archived summaries of jobs put back in the live table (requeued)."""
    conn.execute(
        "DELETE FROM job_summary WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(job_ids),),
    )
