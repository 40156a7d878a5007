"""Idempotent enqueue on PostgreSQL: taken `ref_id`s and active `unique_key`s looked up in the
enqueue transaction. Two producers may both find a key free and both insert: the unique
indexes refuse the second insert (`RacedError`), and the store runs that enqueue again, when
the lookup finds the winner's job."""

from __future__ import annotations

from jobs_core.errors import JobsError
from jobs_core.store.idempotency import Resolution, not_queued, refuse_repeated_ref_ids, resolve
from jobs_core.store.protocol import NewJob

from .connection import Conn

TAKEN_REF_IDS = """
SELECT ref_id, id FROM background_job WHERE ref_id = ANY($1::text[])
UNION ALL SELECT ref_id, id FROM job_ref WHERE ref_id = ANY($1::text[])
"""
"""The jobs holding ref_ids, live (a unique index on `background_job`) or archived (the
primary key of `job_ref`, summaries.ARCHIVED_REFS)."""

ARCHIVED_REF_IDS = "SELECT EXISTS (SELECT 1 FROM job_ref WHERE ref_id = ANY($1::text[]))"
"""Run after the insert, in its transaction: a job holding one of the ref_ids that was
enqueued, finished and archived between the lookup and the insert is in neither the lookup's
snapshot nor the live table's unique index when the insert checks it; a later snapshot sees
its ref_id in `job_ref`. (A holder still live at the insert makes the insert fail on the
index; one being archived makes it wait for the archive's commit, after which this sees it.)"""

ACTIVE_UNIQUE = """
SELECT unique_key, id FROM background_job
WHERE unique_key = ANY($1::text[]) AND state IN ('queued', 'started')
"""

REPLACE_QUEUED = """
UPDATE background_job SET request_type = $1, request_body = $2, run_after = $3,
    key_parked = false
WHERE id = $4 AND state = 'queued'
"""

RACE_RETRIES = 5
"""Enqueues run again after losing a race for a ref_id or unique key (each retry finds the
winner, so one is nearly always enough)."""


class RacedError(JobsError):
    """A concurrent enqueue inserted the same ref_id or unique key first; run it again."""


async def check_archived(conn: Conn, jobs: list[NewJob]) -> None:
    """RacedError if a job archived since the lookup holds the ref_id of one of `jobs` (just
    inserted, live: none of theirs is archived)."""
    ref_ids = [j.ref_id for j in jobs if j.ref_id is not None]
    if ref_ids and await conn.fetchval(ARCHIVED_REF_IDS, ref_ids):
        raise RacedError("a concurrent enqueue took a ref_id")


async def resolve_in(conn: Conn, jobs: list[NewJob]) -> Resolution:
    """Find the jobs of `jobs` already there, and replace queued ones as asked (see
    `idempotency.resolve`)."""
    refuse_repeated_ref_ids(jobs)
    ref_ids = [j.ref_id for j in jobs if j.ref_id is not None]
    keys = sorted({j.unique_key for j in jobs if j.unique_key is not None})
    taken = {r[0]: r[1] for r in await conn.fetch(TAKEN_REF_IDS, ref_ids)} if ref_ids else {}
    active = {r[0]: r[1] for r in await conn.fetch(ACTIVE_UNIQUE, keys)} if keys else {}
    found = resolve(jobs, taken, active)
    for position in found.replace:
        job, holder = jobs[position], found.existing[position]
        status = await conn.execute(
            REPLACE_QUEUED, job.request_type, job.request_body, job.run_after, holder
        )
        if status != "UPDATE 1":
            raise not_queued(job, holder)
    return found
