"""An enqueue's rows built before its transaction takes the write lock.

SQLite has one writer at a time, and an engine in another process waits for the lock
while a producer holds it: every µs of Python inside the producer's transaction (each
job's row, the optional columns the batch binds, its numbering by priority) is a µs the
engine cannot claim or finish. A job's row depends on nothing in the database but its
id, so a group whose jobs nothing can refuse or hold (no ref_id, unique key, batch or
parent) gets its INSERT and rows here, ids left at 0; the transaction reads the next id,
numbers the rows and inserts them (`insert_prebuilt`). Any other group is built inside the
transaction, as `group_insert.insert_group` does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jobs_core.store import numbering
from jobs_core.store.group_commit import Outcome, Pending

from .group_insert import may_be_refused, split_ids
from .queue import queued_rows
from .summaries import NEXT_ID


@dataclass(frozen=True, slots=True, kw_only=True)
class Prebuilt:
    """A group's INSERT and rows, ids to be set (`insert_prebuilt`)."""

    sql: str
    rows: list[list[Any]]
    order: list[int] | None
    """The callers' jobs by priority (`numbering.by_priority`), or None: in their order."""
    sizes: list[int]
    """How many jobs each caller of the group gave, in order."""


def prebuild(group: Sequence[Pending]) -> Prebuilt | None:
    """The group's rows if it has several jobs, nothing can refuse, hold or look up its
    jobs and its callers share one created date; None otherwise. A lone job's row is
    built in the transaction, as before: checking it here cost an awaited `enqueue` of a
    plain job 2 µs (which one statement inserts with its id, `queue.INSERT_ONE`)."""
    if len(group) == 1 and len(group[0].jobs) == 1:
        return None
    now = group[0].now
    if any(e.now != now or may_be_refused(e.jobs) for e in group):
        return None
    jobs = [job for entry in group for job in entry.jobs]
    if any(j.waits for j in jobs):
        return None
    order = numbering.by_priority(jobs)
    sql, rows = queued_rows(jobs if order is None else [jobs[i] for i in order], now)
    return Prebuilt(sql=sql, rows=rows, order=order, sizes=[len(e.jobs) for e in group])


def insert_prebuilt(conn: sqlite3.Connection, built: Prebuilt) -> list[Outcome]:
    """Number and insert `built`'s rows inside the caller's transaction; one outcome (the
    ids, none of them reused) per caller."""
    first = conn.execute(NEXT_ID).fetchone()[0] + 1
    for job_id, row in enumerate(built.rows, first):
        row[0] = job_id
    if len(built.rows) == 1:
        conn.execute(built.sql, built.rows[0])
    else:
        conn.executemany(built.sql, built.rows)
    ids = list(range(first, first + len(built.rows)))
    if built.order is not None:
        ids = numbering.restore(built.order, ids)
    return split_ids(ids, built.sizes)
