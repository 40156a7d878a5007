"""Group commit on SQLite: the enqueues of several callers inserted in one transaction.

Callers whose jobs cannot be refused and look nothing up (no ref_id, unique key, batch or
parent) and that share a created date are inserted together, in one statement; any other
caller's jobs are inserted apart, under a savepoint, so that its refusal (a taken ref_id, a
cancelled batch, a missing parent) rolls back its jobs only and becomes its own outcome,
and the jobs it finds already there (a ref_id or unique key held) are its own. Callers
apart still see each other's jobs: a unique key inserted by one is found by the next.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from jobs_core.errors import JobsError
from jobs_core.store.group_commit import Outcome, Pending
from jobs_core.store.protocol import EnqueuedIds, NewJob

from .queue import insert_jobs


def insert_group(conn: sqlite3.Connection, group: Sequence[Pending]) -> list[Outcome]:
    """Insert every caller's jobs inside the caller's transaction; one outcome per caller.

    A lone caller's refusal is raised, as a plain enqueue raises it (nothing to isolate)."""
    if len(group) == 1:
        entry = group[0]
        return [insert_jobs(conn, entry.jobs, entry.now)]
    outcomes: list[Outcome] = []
    run: list[Pending] = []
    for entry in group:
        checked = may_be_refused(entry.jobs)
        if run and (checked or entry.now != run[0].now):
            outcomes += _insert_run(conn, run)
            run = []
        if checked:
            outcomes.append(_insert_apart(conn, entry))
        else:
            run.append(entry)
    if run:
        outcomes += _insert_run(conn, run)
    return outcomes


def may_be_refused(jobs: list[NewJob]) -> bool:
    """Whether inserting `jobs` checks or looks up something (that may refuse them, or find
    a job already there)."""
    return any(
        j.ref_id is not None or j.batch_id is not None or j.depends_on is not None
        or j.unique_key is not None
        for j in jobs
    )  # fmt: skip


def _insert_run(conn: sqlite3.Connection, run: list[Pending]) -> list[Outcome]:
    """Callers whose jobs nothing can refuse, with one created date: one insert."""
    if len(run) == 1:
        return [insert_jobs(conn, run[0].jobs, run[0].now)]
    ids = insert_jobs(conn, [job for entry in run for job in entry.jobs], run[0].now)
    return split_ids(ids, [len(entry.jobs) for entry in run])


def split_ids(ids: list[int], sizes: list[int]) -> list[Outcome]:
    """One outcome per caller of a run inserted together, `sizes` its callers' job counts
    in order (nothing looked up: none of the ids reused)."""
    outcomes: list[Outcome] = []
    start = 0
    for size in sizes:
        outcomes.append(EnqueuedIds(ids[start : start + size]))
        start += size
    return outcomes


def _insert_apart(conn: sqlite3.Connection, entry: Pending) -> Outcome:
    conn.execute("SAVEPOINT enqueue")
    try:
        ids = insert_jobs(conn, entry.jobs, entry.now)
    except JobsError as error:
        conn.execute("ROLLBACK TO enqueue")
        conn.execute("RELEASE enqueue")
        return error
    conn.execute("RELEASE enqueue")
    return ids
