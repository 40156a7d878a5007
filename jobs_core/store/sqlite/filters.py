"""The only dynamic SQL: admin filters and keyset paging, built from an allow-list."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from jobs_core.records import JobFilter

EXACT_COLUMNS = frozenset(
    {"command", "tag", "batch_id", "created_by", "user_id", "ref_id", "worker", "state"}
)
"""JobFilter fields matched exactly; each is a real column of the job tables."""

TEXT_COLUMNS = ("command", "status", "error", "request_body", "ref_id", "tag")
"""Columns a text search looks in."""

TEXT_SCAN_WINDOW = 20_000
"""Ids a text search scans per page, so a rare word never scans a whole month."""


def job_where(
    flt: JobFilter, cursor: int | None, *, descending: bool
) -> tuple[str, list[Any], int | None]:
    """WHERE clause, its parameters, and the id where a bounded text scan stops."""
    clauses: list[str] = []
    params: list[Any] = []
    for f in fields(flt):
        value = getattr(flt, f.name)
        if value is None or f.name == "text":
            continue
        if f.name not in EXACT_COLUMNS:
            raise ValueError(f"cannot filter on {f.name}")
        clauses.append(f"{f.name} = ?")
        params.append(str(value))
    if cursor is not None:
        clauses.append("id < ?" if descending else "id > ?")
        params.append(cursor)
    window_end: int | None = None
    if flt.text:
        pattern = "%" + flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in TEXT_COLUMNS) + ")")
        params.extend([pattern] * len(TEXT_COLUMNS))
        if cursor is not None:
            window_end = cursor - TEXT_SCAN_WINDOW if descending else cursor + TEXT_SCAN_WINDOW
            clauses.append("id >= ?" if descending else "id <= ?")
            params.append(window_end)
    where = " AND ".join(clauses) if clauses else "1"
    return where, params, window_end
