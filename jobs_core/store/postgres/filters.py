"""The only dynamic SQL of the PostgreSQL store: listings with filters and keyset paging.

Built from an allow-list of columns; values are always parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from jobs_core.records import JobFilter, JobState

from .archive import month_bounds
from .rows import JOB_SELECT

EXACT_COLUMNS = frozenset(
    {"command", "tag", "batch_id", "created_by", "user_id", "ref_id", "worker", "state"}
)
"""JobFilter fields matched exactly; each is a real column of the job tables."""

TEXT_COLUMNS = ("command", "status", "error::text", "request_body", "ref_id", "tag")
"""Columns a text search looks in (case-insensitively, as SQLite's LIKE does)."""

TEXT_SCAN_WINDOW = 5_000
"""Ids a text search scans per page, so a rare word never scans a whole month (smaller than
SQLite's 20,000: ILIKE over six columns costs PostgreSQL ~3 µs a row, measured)."""


@dataclass(slots=True)
class Query:
    """A listing statement with its parameters, and where a bounded text scan stops."""

    sql: str
    params: list[Any]
    window_end: int | None


class _Where:
    def __init__(self, params: list[Any]) -> None:
        self.clauses: list[str] = []
        self.params = params

    def add(self, clause: str, *values: Any) -> None:
        marks = []
        for value in values:
            self.params.append(value)
            marks.append(f"${len(self.params)}")
        self.clauses.append(clause.format(*marks))

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "true"


def _filters(where: _Where, flt: JobFilter, cursor: int | None, descending: bool) -> int | None:
    for f in fields(flt):
        value = getattr(flt, f.name)
        if value is None or f.name == "text":
            continue
        if f.name not in EXACT_COLUMNS:
            raise ValueError(f"cannot filter on {f.name}")
        where.add(f"{f.name} = {{}}", str(value))
    if cursor is not None:
        where.add("id < {}" if descending else "id > {}", cursor)
    if not flt.text:
        return None
    pattern = "%" + flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    where.params.append(pattern)
    mark = f"${len(where.params)}"
    where.clauses.append("(" + " OR ".join(f"{c} ILIKE {mark}" for c in TEXT_COLUMNS) + ")")
    if cursor is None:
        return None
    window_end = cursor - TEXT_SCAN_WINDOW if descending else cursor + TEXT_SCAN_WINDOW
    where.add("id >= {}" if descending else "id <= {}", window_end)
    return window_end


def queue_query(flt: JobFilter, cursor: int | None, limit: int) -> Query:
    """Jobs in the queue (queued, started, executed), oldest first, after id `cursor`."""
    where = _Where([])
    _filters(where, flt, cursor, descending=False)
    where.params.append(limit + 1)
    sql = (
        f"SELECT {JOB_SELECT} FROM background_job "
        f"WHERE state IN ('queued', 'started', 'executed') AND {where.sql()} "
        f"ORDER BY id LIMIT ${len(where.params)}"
    )
    return Query(sql=sql, params=where.params, window_end=None)


def archive_query(
    month: str, kind: JobState, flt: JobFilter, cursor: int | None, limit: int
) -> Query:
    """Completed (or failed and cancelled) jobs of `month`, newest first, before `cursor`."""
    table = "completed_job" if kind is JobState.COMPLETED else "failed_job"
    start, end = month_bounds(month)
    where = _Where([start, end])
    window_end = _filters(where, flt, cursor, descending=True)
    where.params.append(limit + 1)
    sql = (
        f"SELECT {JOB_SELECT} FROM {table} WHERE completed_date >= $1 AND completed_date < $2 "
        f"AND {where.sql()} ORDER BY id DESC LIMIT ${len(where.params)}"
    )
    return Query(sql=sql, params=where.params, window_end=window_end)


def archive_top(kind: JobState) -> str:
    """Highest id of a month's table: where an unbounded text search starts its window."""
    table = "completed_job" if kind is JobState.COMPLETED else "failed_job"
    return f"SELECT max(id) FROM {table} WHERE completed_date >= $1 AND completed_date < $2"
