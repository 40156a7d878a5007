"""Reads on one month file for search, retention and progress estimates (run through
`MonthReader.run`, so a damaged month fails alone)."""

from __future__ import annotations

import sqlite3
from collections import Counter

from jobs_core.records import Job, JobState

from .month_schema import DAY_TOKEN, HOUR_TOKEN, MONTH_SEARCH_VERSION, MONTH_TABLES, month_select
from .rows import row_to_job

SEARCH_IDS = """
SELECT rowid FROM job_text WHERE job_text MATCH ? AND rowid < ? ORDER BY rowid DESC LIMIT ?
"""

# A month cut by the date range: each hit's finish time is read from its row.
SEARCH_IDS_IN_RANGE = """
SELECT t.rowid FROM job_text t
WHERE job_text MATCH :q AND t.rowid < :before
  AND coalesce((SELECT c.completed_date FROM completed_job c WHERE c.id = t.rowid),
               (SELECT f.completed_date FROM failed_job f WHERE f.id = t.rowid))
      BETWEEN :since AND :until - 1
ORDER BY t.rowid DESC LIMIT :limit
"""


def match_query(text: str) -> str | None:
    """`text` as an FTS5 query: every word must appear (each written word is a quoted phrase,
    so punctuation and FTS5 operators are plain text); None when it has no word."""
    words = [w for w in text.split() if any(ch.isalnum() for ch in w)]
    if not words:
        return None
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in words)


def time_terms(since: int | None, until: int | None, month: tuple[int, int]) -> list[str]:
    """Day and hour tokens covering [since, until) inside `month` ([start, end) in ms): whole
    days as day tokens, the rest of the range as hour tokens (the hours at either end may
    reach past it: the caller filters those hits exactly)."""
    start = max(since or month[0], month[0]) // HOUR * HOUR
    end = min(until if until is not None else month[1], month[1])
    terms: list[str] = []
    at = start
    while at < end:
        if at % DAY == 0 and at + DAY <= end:
            terms.append(f"{DAY_TOKEN}{at // DAY}")
            at += DAY
        else:
            terms.append(f"{HOUR_TOKEN}{at // HOUR}")
            at += HOUR
    return terms


HOUR = 3_600_000
DAY = 24 * HOUR


def version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def search(
    conn: sqlite3.Connection, *, query: str, before: int, limit: int,
    since: int | None, until: int | None, month: tuple[int, int],
) -> list[Job]:  # fmt: skip
    """Jobs of this month ([start, end) ms) matching `query`, highest id below `before`
    first; finished in [`since`, `until`) when given (only when the range cuts the month)."""
    if version(conn) < MONTH_SEARCH_VERSION:
        return []
    if since is None and until is None:
        ids = [r[0] for r in conn.execute(SEARCH_IDS, (query, before, limit))]
    else:
        terms = time_terms(since, until, month)
        if not terms:
            return []
        params = {
            "q": f"({query}) AND ({' OR '.join(terms)})", "before": before, "limit": limit,
            "since": since or 0, "until": until if until is not None else 2**62,
        }  # fmt: skip
        ids = [r[0] for r in conn.execute(SEARCH_IDS_IN_RANGE, params)]
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    select = month_select(version(conn))
    rows = conn.execute(
        " UNION ALL ".join(f"SELECT {select} FROM {t} WHERE id IN ({marks})" for t in MONTH_TABLES),
        [*ids, *ids],
    ).fetchall()
    return sorted((row_to_job(r) for r in rows), key=lambda j: -j.id)


def durations(conn: sqlite3.Connection, *, command: str, limit: int) -> list[int]:
    """Durations of the latest completions of `command` in this month (an index range)."""
    rows = conn.execute(
        "SELECT duration_ms FROM completed_job WHERE command = ? AND duration_ms IS NOT NULL "
        "ORDER BY id DESC LIMIT ?",
        (command, limit),
    )
    return [int(r[0]) for r in rows]


def count_older(
    conn: sqlite3.Connection, *, older_than: int | None, states: frozenset[JobState],
    keep: int | None = None,
) -> Counter[JobState]:  # fmt: skip
    """Jobs of this month in `states` that finished before `older_than` (all if None), but
    not job `keep`."""
    found: Counter[JobState] = Counter()
    clause, params = " AND id IS NOT ?", [keep]
    if older_than is not None:
        clause, params = clause + " AND completed_date < ?", [keep, older_than]
    for table in MONTH_TABLES:
        for state, n in conn.execute(
            f"SELECT state, count(*) FROM {table} WHERE 1{clause} GROUP BY state", params
        ):
            if JobState(state) in states:
                found[JobState(state)] += n
    return found
