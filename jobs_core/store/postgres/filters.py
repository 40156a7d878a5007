"""The only dynamic SQL of the PostgreSQL store: job queries (`JobQuery`) and keyset paging,
built from an allow-list of columns; every value is a parameter."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    "error_code": "(error ->> 'code')",
}
"""Query field → the SQL expression it compares (live and archive tables alike)."""

INDEXED = frozenset(
    {"command", "tag", "batch_id", "created_by", "user_id", "ref_id", "queue", "state"}
)
"""Fields the archive tables have an index `(field, id)` on (see `schema.ARCHIVE_INDEXES`)."""

TEXT_COLUMNS = ("command", "status", "error::text", "request_body", "ref_id", "tag")
"""Columns a text search looks in (case-insensitively, as SQLite's LIKE does)."""

JOB_TIME = "coalesce(completed_date, created_date)"
"""A job's time for `since:`/`before:`: when it finished, or was created if it has not."""

TEXT_SCAN_WINDOW = 5_000
"""Ids a page scans when no index narrows the query, so a rare match never scans a month
(smaller than SQLite's 20,000: ILIKE over six columns costs PostgreSQL ~3 µs a row)."""


@dataclass(slots=True)
class Where:
    """A WHERE clause being built: its conditions and their parameters ($1, $2, ...)."""

    params: list[Any] = field(default_factory=list)
    clauses: list[str] = field(default_factory=list)
    window_end: int | None = None
    """Where a bounded scan stops (None: unbounded)."""

    def mark(self, value: Any) -> str:
        """A placeholder for `value`, added to the parameters."""
        self.params.append(value)
        return f"${len(self.params)}"

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "true"


def needs_window(query: JobQuery) -> bool:
    """Whether a query over an archive table must scan in bounded windows: it has conditions
    but none that an index finds (a positive, exact term on an indexed field)."""
    if not query:
        return False
    return not any(t.column in INDEXED and not t.negate and not t.prefix for t in query.terms)


def job_where(
    where: Where, query: JobQuery, cursor: int | None, *, descending: bool, bounded: bool = False
) -> Where:
    """Add to `where` the conditions selecting `query`'s jobs after `cursor` in keyset order;
    with `bounded`, only `TEXT_SCAN_WINDOW` ids past the cursor (the caller gives one)."""
    for term in query.terms:
        sql = _term(where, term)
        where.add(f"NOT coalesce({sql}, false)" if term.negate else sql)
    since, before = query.time_range()
    if since is not None:
        where.add(f"{JOB_TIME} >= {where.mark(since)}")
    if before is not None:
        where.add(f"{JOB_TIME} < {where.mark(before)}")
    if cursor is not None:
        where.add(f"id {'<' if descending else '>'} {where.mark(cursor)}")
    if bounded and cursor is not None:
        where.window_end = cursor - TEXT_SCAN_WINDOW if descending else cursor + TEXT_SCAN_WINDOW
        where.add(f"id {'>=' if descending else '<='} {where.mark(where.window_end)}")
    return where


def _term(where: Where, term: Term) -> str:
    """SQL true when the (un-negated) term holds."""
    if term.key == "text":
        pattern = where.mark(_like(term.values[0]))
        return "(" + " OR ".join(f"{c} ILIKE {pattern}" for c in TEXT_COLUMNS) + ")"
    if term.key.startswith("args."):
        expr = f"(args ->> {where.mark(term.key[5:])})"
    else:
        expr = COLUMNS[term.column]
    values = list(term.values)
    if term.key == "state":
        values = sorted({state.value for v in values for state in STATE_WORDS[v]})
    if term.prefix:
        # starts_with, not a range: a range compares by the database's collation.
        parts = [
            f"{expr} IS NOT NULL" if not v else f"starts_with({expr}, {where.mark(v)})"
            for v in values
        ]
        return "(" + " OR ".join(parts) + ")"
    return f"{expr} = ANY({where.mark(values)}::text[])"


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
