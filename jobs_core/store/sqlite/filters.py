"""The only dynamic SQL: job queries and keyset paging, built from an allow-list of columns;
every value is a parameter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs_core.query import STATE_WORDS, JobQuery, Term

COLUMNS: dict[str, str] = {
    "command": "command",
    "tag": "tag",
    "batch_id": "batch_id",
    "created_by": "created_by",
    "user_id": "user_id",
    "ref_id": "ref_id",
    "worker": "worker",
    "queue": "queue",
    "state": "state",
    "error_code": "json_extract(error, '$.code')",
}
"""Query field → the SQL expression it compares (job tables: live and month alike)."""

INDEXED = frozenset(
    {"command", "tag", "batch_id", "created_by", "user_id", "ref_id", "queue", "state"}
)
"""Fields a month table has an index `(field, id)` on (see `month_schema.MONTH_INDEX_COLUMNS`)."""

TEXT_COLUMNS = ("command", "status", "error", "request_body", "ref_id", "tag")
"""Columns a text search looks in."""

JOB_TIME = "coalesce(completed_date, created_date)"
"""A job's time for `since:`/`before:`: when it finished, or was created if it has not."""

TEXT_SCAN_WINDOW = 20_000
"""Ids a page scans when no index narrows the query, so a rare match never scans a month."""


@dataclass(frozen=True, slots=True)
class Where:
    """A WHERE clause, its parameters, and where a bounded scan stops (None: unbounded)."""

    sql: str
    params: list[Any]
    window_end: int | None = None


def needs_window(query: JobQuery) -> bool:
    """Whether a query over a month table must scan in bounded windows: it has conditions
    but none that an index finds (a positive, exact term on an indexed field)."""
    if not query:
        return False
    return not any(t.column in INDEXED and not t.negate and not t.prefix for t in query.terms)


def job_where(
    query: JobQuery, cursor: int | None, *, descending: bool, bounded: bool = False
) -> Where:
    """The clause selecting `query`'s jobs after `cursor` in keyset order; with `bounded`,
    only `TEXT_SCAN_WINDOW` ids past the cursor are scanned (the caller gives a cursor)."""
    clauses: list[str] = []
    params: list[Any] = []
    for term in query.terms:
        sql, values = _term(term)
        clauses.append(f"NOT coalesce({sql}, 0)" if term.negate else sql)
        params.extend(values)
    since, before = query.time_range()
    if since is not None:
        clauses.append(f"{JOB_TIME} >= ?")
        params.append(since)
    if before is not None:
        clauses.append(f"{JOB_TIME} < ?")
        params.append(before)
    if cursor is not None:
        clauses.append("id < ?" if descending else "id > ?")
        params.append(cursor)
    window_end: int | None = None
    if bounded and cursor is not None:
        window_end = cursor - TEXT_SCAN_WINDOW if descending else cursor + TEXT_SCAN_WINDOW
        clauses.append("id >= ?" if descending else "id <= ?")
        params.append(window_end)
    return Where(" AND ".join(clauses) if clauses else "1", params, window_end)


def _term(term: Term) -> tuple[str, list[Any]]:
    """SQL (true when the term holds) and its parameters, for one un-negated term."""
    if term.key == "text":
        return _text(term.values[0])
    if term.key.startswith("args."):
        expr, head = "json_extract(args, ?)", [f'$."{term.key[5:]}"']
    else:
        expr, head = COLUMNS[term.column], []
    values = list(term.values)
    if term.key == "state":
        values = sorted({state.value for v in values for state in STATE_WORDS[v]})
    if term.prefix:
        return _prefix(expr, head, values)
    marks = ", ".join("?" for _ in values)
    return f"{expr} IN ({marks})", [*head, *values]


def _prefix(expr: str, head: list[Any], values: list[str]) -> tuple[str, list[Any]]:
    """`expr` starts with one of `values`: a range, so an index on the column serves it."""
    parts: list[str] = []
    params: list[Any] = []
    for value in values:
        if not value:
            parts.append(f"{expr} IS NOT NULL")
            params.extend(head)
            continue
        parts.append(f"({expr} >= ? AND {expr} < ?)")
        params.extend([*head, value, *head, value[:-1] + chr(ord(value[-1]) + 1)])
    return "(" + " OR ".join(parts) + ")", params


def _text(word: str) -> tuple[str, list[Any]]:
    pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    sql = "(" + " OR ".join(f"coalesce({c} LIKE ? ESCAPE '\\', 0)" for c in TEXT_COLUMNS) + ")"
    return sql, [pattern] * len(TEXT_COLUMNS)
