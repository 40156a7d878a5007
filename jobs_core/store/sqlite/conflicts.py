"""Idempotent enqueue on SQLite: taken `ref_id`s and active `unique_key`s resolved to the
jobs holding them, inside the enqueue transaction (`BEGIN IMMEDIATE` makes the check and
the insert one step for every process, so concurrent producers never add one key twice)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from jobs_core.errors import DuplicateRefIdError
from jobs_core.store.protocol import NewJob

ACTIVE_UNIQUE = """
SELECT unique_key, id FROM background_job INDEXED BY ux_job_unique
WHERE unique_key IN (SELECT value FROM json_each(?)) AND state IN ('queued', 'started')
"""

REPLACE_QUEUED = """
UPDATE background_job SET request_type = :request_type, request_body = :request_body,
    run_after = :run_after, key_parked = 0
WHERE id = :id AND state = 'queued'
"""


@dataclass(slots=True)
class Resolution:
    """Which jobs of an enqueue exist already, and which are new."""

    existing: dict[int, int] = field(default_factory=dict)
    """Position in the call → id of the job already holding its ref_id or unique key."""
    same_as: dict[int, int] = field(default_factory=dict)
    """Position → an earlier position of the same call with the same unique key."""

    def new_positions(self, n: int) -> list[int]:
        return [i for i in range(n) if i not in self.existing and i not in self.same_as]


def resolve(conn: sqlite3.Connection, jobs: list[NewJob], now: int) -> Resolution:
    """Find the jobs of `jobs` that are already there; replace queued ones as asked.

    Raises DuplicateRefIdError for a taken ref_id with `on_conflict="raise"`, for `"replace"`
    of a job no longer queued, and for one ref_id given twice in the call.
    """
    found = Resolution()
    ref_ids = [j.ref_id for j in jobs if j.ref_id is not None]
    if ref_ids:
        _ref_ids(conn, jobs, ref_ids, found)
    if any(j.unique_key is not None for j in jobs):
        _unique_keys(conn, jobs, found)
    return found


def _ref_ids(
    conn: sqlite3.Connection, jobs: list[NewJob], ref_ids: list[str], found: Resolution
) -> None:
    seen: set[str] = set()
    for ref_id in ref_ids:
        if ref_id in seen:
            raise DuplicateRefIdError(
                f"ref_id '{ref_id}' is given to two jobs in one enqueue", ref_id=ref_id
            )
        seen.add(ref_id)
    if len(ref_ids) == 1:
        row = conn.execute("SELECT id FROM job_summary WHERE ref_id = ?", ref_ids).fetchone()
        taken = {ref_ids[0]: row[0]} if row else {}
    else:
        taken = dict(
            conn.execute(
                "SELECT ref_id, id FROM job_summary "
                "WHERE ref_id IN (SELECT value FROM json_each(?))",
                (json.dumps(ref_ids),),
            ).fetchall()
        )
    for position, job in enumerate(jobs):
        if job.ref_id is None or job.ref_id not in taken:
            continue
        existing = taken[job.ref_id]
        if job.on_conflict == "raise":
            raise DuplicateRefIdError(
                f"ref_id '{job.ref_id}' is already used by job {existing}",
                ref_id=job.ref_id, existing_id=existing,
            )  # fmt: skip
        if job.on_conflict == "replace":
            _replace(conn, job, existing)
        found.existing[position] = existing


def _replace(conn: sqlite3.Connection, job: NewJob, existing: int) -> None:
    params = {
        "request_type": job.request_type, "request_body": job.request_body,
        "run_after": job.run_after, "id": existing,
    }  # fmt: skip
    if conn.execute(REPLACE_QUEUED, params).rowcount != 1:
        assert job.ref_id is not None
        raise DuplicateRefIdError(
            f"ref_id '{job.ref_id}' is held by job {existing}, which is no longer queued; "
            "on_conflict='replace' only changes a queued job",
            ref_id=job.ref_id, existing_id=existing,
        )  # fmt: skip


def _unique_keys(conn: sqlite3.Connection, jobs: list[NewJob], found: Resolution) -> None:
    keys = sorted({j.unique_key for j in jobs if j.unique_key is not None})
    active = dict(conn.execute(ACTIVE_UNIQUE, (json.dumps(keys),)).fetchall())
    first: dict[str, int] = {}
    for position, job in enumerate(jobs):
        key = job.unique_key
        if key is None or position in found.existing:
            continue
        if key in active:
            found.existing[position] = active[key]
        elif key in first:
            found.same_as[position] = first[key]
        else:
            first[key] = position
