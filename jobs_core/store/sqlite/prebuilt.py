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
from typing import Any

from jobs_core.store import numbering
from jobs_core.store.group_commit import Outcome, Pending
from jobs_core.store.protocol import JobColumns, Routing

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
    parameters are that row repeated, the columns that vary (the requests' types and
    bodies; with `routing`, the queues, priorities and keys that differ) set by slice (a
    job costs a list slot a column, not a tuple and a `NewJob`), the template's other
    values bound once a statement (`multirow`'s shared values). With priorities, the jobs
    are numbered by priority (`numbering`), as `prebuild` numbers records."""
    job = jobs.job
    if may_be_refused([job]) or job.waits or not len(jobs):
        return None
    columns, (row,) = queued_rows([job], [now])
    varying: dict[int, Sequence[Any]] = {_BODY: jobs.request_bodies}
    if any(t != job.request_type for t in jobs.request_types):
        varying[_TYPE] = jobs.request_types
    order = None
    if jobs.routing is not None:
        routed = _routed(jobs.routing)
        if set(columns) & routed.keys():  # the template sets them itself: as records
            return None
        order = numbering.order(jobs.routing.priorities)
        for name, values in routed.items():
            columns += (name,)
            row += (values[0],)
            if values.count(values[0]) < len(values):
                varying[len(row) - 1] = values
        if order is not None:
            varying = {i: [values[j] for j in order] for i, values in varying.items()}
    return _prebuilt(columns, row, varying, len(jobs), order)


def _routed(routing: Routing) -> dict[str, list[Any]]:
    """The columns `routing` binds, as `queue._routed_rows` binds them for records: the
    key's limit only where a job with a key has another than the default (1)."""
    keys = list(routing.keys)
    routed: dict[str, list[Any]] = {
        "queue": list(routing.queues), "priority": list(routing.priorities),
        "concurrency_key": keys,
    }  # fmt: skip
    if routing.key_limit != 1 and keys.count(None) < len(keys):
        limit = routing.key_limit
        routed["concurrency_limit"] = [1 if key is None else limit for key in keys]
    return routed


def _prebuilt(
    columns: tuple[str, ...], row: tuple[Any, ...], varying: dict[int, Sequence[Any]],
    count: int, order: list[int] | None,
) -> Prebuilt:  # fmt: skip
    """The statements of `count` rows like `row`, but for the id and the `varying` columns
    (by position: each row's values)."""
    width = len(columns)
    own = sorted({0, *varying})
    shared = tuple(i not in own for i in range(width))
    values = [v for v, one in zip(row, shared, strict=True) if one]
    stride = len(own)
    statements: multirow.Statements = []
    start = 0
    for k in multirow.sizes(count, multirow.top_rows(width)):
        if k == 1:  # one row: nothing to share (as multirow.statements)
            params = list(row)
            for column, source in varying.items():
                params[column] = source[start]
            statements.append((multirow.insert_sql(columns, 1), params, 0))
        else:
            params = values + [None] * (k * stride)
            for slot, column in enumerate(own[1:], 1):
                params[len(values) + slot :: stride] = varying[column][start : start + k]
            statements.append((multirow.insert_sql(columns, k, shared), params, len(values)))
        start += k
    return Prebuilt(statements=statements, width=width, count=count, order=order, sizes=[count])


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
