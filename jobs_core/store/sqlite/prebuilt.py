"""An enqueue's rows built before its transaction takes the write lock.

SQLite has one writer at a time, and an engine in another process waits for the lock
while a producer holds it: every µs of Python inside the producer's transaction (each
job's row, the optional columns the batch binds, its numbering by priority) is a µs the
engine cannot claim or finish. A job's row depends on nothing in the database but its
id, so a group whose jobs nothing can refuse or hold (no ref_id, unique key, batch or
parent) gets its INSERTs and their parameters here (`multirow.py`), ids left at 0, each
job created at its caller's time; the transaction reads the next id, numbers the rows and
inserts them (`insert_prebuilt`). Any other group is built inside the transaction, as
`group_insert.insert_group` does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from jobs_core.store import numbering
from jobs_core.store.group_commit import Outcome, Pending
from jobs_core.store.protocol import JobColumns

from . import multirow
from .group_insert import may_be_refused, split_ids
from .queue import BASE_COLUMNS, queued_rows
from .summaries import NEXT_ID


@dataclass(frozen=True, slots=True, kw_only=True)
class Prebuilt:
    """A group's INSERTs and their parameters, ids to be set (`insert_prebuilt`)."""

    statements: multirow.Statements
    width: int
    """Values a row binds."""
    count: int
    """Rows in all."""
    order: list[int] | None
    """The callers' jobs by priority (`numbering.by_priority`), or None: in their order."""
    sizes: list[int]
    """How many jobs each caller of the group gave, in order."""


def prebuild(group: Sequence[Pending]) -> Prebuilt | None:
    """The group's rows if it has several jobs and nothing can refuse, hold or look up its
    jobs; None otherwise. A lone job's row is built in the transaction, as before:
    checking it here cost an awaited `enqueue` of a plain job 2 µs (which one statement
    inserts with its id, `queue.INSERT_ONE`)."""
    if len(group) == 1 and len(group[0].jobs) == 1:
        return None
    if any(may_be_refused(e.jobs) for e in group):
        return None
    jobs = [job for entry in group for job in entry.jobs]
    if any(j.waits for j in jobs):
        return None
    # Callers of one pass of the loop may straddle a millisecond: each job keeps its own.
    created = [entry.now for entry in group for _ in entry.jobs]
    order = numbering.by_priority(jobs)
    if order is not None:
        jobs, created = [jobs[i] for i in order], [created[i] for i in order]
    columns, rows = queued_rows(jobs, created)
    return Prebuilt(
        statements=multirow.statements(columns, rows), width=len(columns), count=len(rows),
        order=order, sizes=[len(e.jobs) for e in group],
    )  # fmt: skip


def prebuild_columns(jobs: JobColumns, now: int) -> Prebuilt | None:
    """The rows of `jobs` (`Store.enqueue_columns`) if nothing can refuse, hold or look
    them up (as `prebuild`), else None. One row is built, the template's; each statement's
    parameters are that row repeated, the requests' types and bodies set by slice (a job
    costs two list slots, not a tuple and a `NewJob`), the template's other values bound once
    a statement (`multirow`'s shared values)."""
    job = jobs.job
    if may_be_refused([job]) or job.waits or not len(jobs):
        return None
    columns, (row,) = queued_rows([job], [now])
    width = len(columns)
    types, bodies = jobs.request_types, jobs.request_bodies
    own = [0, _BODY] if all(t == job.request_type for t in types) else [0, _TYPE, _BODY]
    own.sort()
    shared = tuple(i not in own for i in range(width))
    values = [v for v, one in zip(row, shared, strict=True) if one]
    stride = len(own)
    statements: multirow.Statements = []
    start = 0
    for k in multirow.sizes(len(bodies), multirow.top_rows(width)):
        if k == 1:  # one row: nothing to share (as multirow.statements)
            params = list(row)
            params[_TYPE], params[_BODY] = types[start], bodies[start]
            statements.append((multirow.insert_sql(columns, 1), params, 0))
        else:
            params = values + [None] * (k * stride)
            for slot, column in enumerate(own[1:], 1):
                source = types if column == _TYPE else bodies
                params[len(values) + slot :: stride] = source[start : start + k]
            statements.append((multirow.insert_sql(columns, k, shared), params, len(values)))
        start += k
    return Prebuilt(
        statements=statements, width=width, count=len(bodies), order=None, sizes=[len(bodies)]
    )


_TYPE = BASE_COLUMNS.index("request_type")
_BODY = BASE_COLUMNS.index("request_body")


def insert_prebuilt(conn: sqlite3.Connection, built: Prebuilt) -> list[Outcome]:
    """Number and insert `built`'s rows inside the caller's transaction; one outcome (the
    ids, none of them reused) per caller."""
    first = conn.execute(NEXT_ID).fetchone()[0] + 1
    multirow.number(built.statements, built.width, first)
    multirow.execute(conn, built.statements)
    ids = list(range(first, first + built.count))
    if built.order is not None:
        ids = numbering.restore(built.order, ids)
    return split_ids(ids, built.sizes)
