"""Job summaries on PostgreSQL: a live job's is read from its row in `background_job`, an
archived job's from `job_summary`, which gets it in the statement that moves the job out of
the live table (`finish_jobs` for a job that ends, the archive pass for one that ended in
the live table), so a job is in exactly one of the two tables.

Nothing on the hot path writes a summary but the finish that archives: an enqueue writes the
job's row alone, and claims change that row alone. Readers that want a job whatever its
state read `every_job(condition)`, the two tables as one.
"""

from __future__ import annotations

from jobs_core.store.rows import SUMMARY_SELECT, live_summary_select

LIVE_SUMMARY_SELECT = live_summary_select(lambda key: f"error ->> '{key}'")
"""A job's summary from its full row (live, or moving out), in `SUMMARY_FIELDS` order."""


def every_job(where: str) -> str:
    """A subquery of the summaries of the jobs matching `where`, live or archived
    (`FROM {every_job(...)} AS s`): an SQL condition on columns both tables have
    (`error_code` and `error_message` are the summary's alone), written into each arm so that
    each uses its own index. One statement, one snapshot: a job archived meanwhile is seen in
    one arm or the other, never both."""
    return (
        f"(SELECT {LIVE_SUMMARY_SELECT} FROM background_job WHERE {where} "
        f"UNION ALL SELECT {SUMMARY_SELECT} FROM job_summary WHERE {where})"
    )


def archive_summaries(moved: str) -> str:
    """An INSERT of the summaries of the jobs of `moved` (a CTE of full rows leaving the
    live table). Plain, no ON CONFLICT (which cost ~1-2 µs a row, measured): a summary
    already there for a live job can only have been written at enqueue by a process of
    schema version 6 or older still running beside this one during an upgrade; the insert then fails
    (`connection.StaleSummaryError`) and the store drops such summaries (`DROP_STALE`) and
    writes again."""
    return f"INSERT INTO job_summary ({SUMMARY_SELECT}) SELECT {LIVE_SUMMARY_SELECT} FROM {moved}"


DROP_STALE = "DELETE FROM job_summary s USING background_job b WHERE s.id = b.id"
"""The summaries of live jobs (what migration 7 deletes; see `archive_summaries`)."""
