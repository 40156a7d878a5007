"""Idempotent enqueue on SQLite: taken `ref_id`s and active `unique_key`s looked up inside
the enqueue transaction (`BEGIN IMMEDIATE` makes the check and the insert one step for every
process, so concurrent producers never add one key twice)."""

from __future__ import annotations

import json
import sqlite3

from jobs_core.store.idempotency import Resolution, not_queued, refuse_repeated_ref_ids, resolve
from jobs_core.store.protocol import NewJob

TAKEN_REF_IDS = """
SELECT ref_id, id FROM background_job
WHERE ref_id IN (SELECT value FROM json_each(?1))
UNION ALL
SELECT ref_id, id FROM job_summary WHERE ref_id IN (SELECT value FROM json_each(?1))
"""
"""ref_ids held by live jobs and by archived ones (a job is in one table or the other)."""

ACTIVE_UNIQUE = """
SELECT unique_key, id FROM background_job INDEXED BY ux_job_unique
WHERE unique_key IN (SELECT value FROM json_each(?)) AND state IN ('queued', 'started')
"""

REPLACE_QUEUED = """
UPDATE background_job SET request_type = ?, request_body = ?, run_after = ?, key_parked = 0
WHERE id = ? AND state = 'queued'
"""


def resolve_in(conn: sqlite3.Connection, jobs: list[NewJob]) -> Resolution:
    """Find the jobs of `jobs` that are already there, and replace queued ones as asked.

    Raises DuplicateRefIdError for a taken ref_id with `on_conflict="raise"`, for `"replace"`
    of a job no longer queued, and for one ref_id given twice in the call.
    """
    refuse_repeated_ref_ids(jobs)
    ref_ids = [j.ref_id for j in jobs if j.ref_id is not None]
    keys = sorted({j.unique_key for j in jobs if j.unique_key is not None})
    taken = dict(conn.execute(TAKEN_REF_IDS, (json.dumps(ref_ids),))) if ref_ids else {}
    active = dict(conn.execute(ACTIVE_UNIQUE, (json.dumps(keys),))) if keys else {}
    found = resolve(jobs, taken, active)
    for position in found.replace:
        job, holder = jobs[position], found.existing[position]
        values = (job.request_type, job.request_body, job.run_after, holder)
        if conn.execute(REPLACE_QUEUED, values).rowcount != 1:
            raise not_queued(job, holder)
    return found
