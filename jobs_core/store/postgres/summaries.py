"""Job summaries on PostgreSQL, read from the job's row wherever it is: a live job's from
`background_job`, an archived job's from its month's partition of `completed_job` or
`failed_job` (every column a summary has is there). Since schema version 10 no summary is
written apart: the statement that moves a job out of the live table writes its archived row
(and, for a job with a ref_id, that ref_id into `job_ref`).

Readers that want a job whatever its state read `every_job(condition)`, the three tables as
one.
"""

from __future__ import annotations

from jobs_core.store.rows import live_summary_select

LIVE_SUMMARY_SELECT = live_summary_select(lambda key: f"error ->> '{key}'")
"""A job's summary from its full row (live or archived), in `SUMMARY_FIELDS` order."""

JOB_TABLES = ("background_job", "completed_job", "failed_job")

ARCHIVED_REFS = "job_ref"
"""The ref_ids of archived jobs (`ref_id` its primary key, and the job's id): a lookup by
ref_id in one index, where the month partitions' `ix_*_ref_id` cost a probe a partition and,
for an array of ref_ids, a plan made again at every call (4.5 ms a call at 24 months,
against 33 µs on `job_summary`); its key refuses a second archived holder of a ref_id, as
`job_summary`'s unique index did. Only jobs with a ref_id have a row."""


def archive_refs(moved: str) -> str:
    """A CTE body: the ref_ids of the jobs of `moved` (rows leaving the live table) into
    `job_ref`. Plain, no ON CONFLICT: the live table's unique index let only one holder in."""
    return (
        f"INSERT INTO {ARCHIVED_REFS} (ref_id, id) "
        f"SELECT ref_id, id FROM {moved} WHERE ref_id IS NOT NULL"
    )


"""The tables a job can be in: live, or archived in a month's partition."""


def every_job(where: str) -> str:
    """A subquery of the summaries of the jobs matching `where`, live or archived
    (`FROM {every_job(...)} AS s`): an SQL condition on job columns (`error_code` and
    `error_message` are the summary's names for keys of `error`), written into each arm so
    that each uses its own index (in every month's partition: none is pruned, as the
    condition does not bound `completed_date`). One statement, one snapshot: a job archived
    meanwhile is seen in one arm or another, never two."""
    return "(" + " UNION ALL ".join(
        f"SELECT {LIVE_SUMMARY_SELECT} FROM {table} WHERE {where}" for table in JOB_TABLES
    ) + ")"  # fmt: skip
