"""Attempt history on SQLite: rows for attempts that did not end their job, and requeues."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from jobs_core.history import AttemptRow
from jobs_core.records import AttemptOutcome, JobState
from jobs_core.store.protocol import Transition

from .rows import error_from_json, error_to_json
from .schema import ATTEMPT_FIELDS

ATTEMPT_SELECT = ", ".join(ATTEMPT_FIELDS)

RECORD = """
INSERT INTO job_attempt (job_id, seq, number, outcome, engine, started_date, ended_date,
    duration_ms, error, progress, status, log_end)
SELECT b.id, coalesce((SELECT max(a.seq) FROM job_attempt a WHERE a.job_id = b.id), 0) + 1,
    b.attempts + (t.value ->> 2), t.value ->> 1, t.value ->> 3, b.started_date, :now,
    t.value ->> 4, b.error, b.progress, b.status,
    CASE WHEN substr(b.logs, 1, 5) = '[... ' THEN jobs_log_end(b.logs) ELSE length(b.logs) END
FROM json_each(:rows) AS t JOIN background_job b ON b.id = t.value ->> 0
"""
"""Read after the transitions applied: the job's row holds this attempt's error, progress,
status and logs (appended). Logs the cap never cut end at their length; only those that
start with its marker go through the Python function (a call costs ~0.5 µs a row)."""

INSERT = f"INSERT OR REPLACE INTO job_attempt ({ATTEMPT_SELECT}) VALUES " + (
    "(" + ", ".join("?" for _ in ATTEMPT_FIELDS) + ")"
)

NEXT_SEQ = "SELECT coalesce(max(seq), 0) + 1 FROM job_attempt WHERE job_id = ?"


def record(conn: sqlite3.Connection, applied: list[Transition], now: int) -> None:
    """Keep a row for each applied attempt that did not end its job (the job is queued
    again: a retry, a lost or an interrupted attempt). The common case writes nothing."""
    rows = [
        [t.job_id, t.outcome.value, int(t.refund_attempt), t.owner_guard, t.duration_ms]
        for t in applied
        if t.outcome is not None and t.state is JobState.QUEUED
    ]
    if rows:
        conn.execute(RECORD, {"rows": json.dumps(rows), "now": now})


def rows_of(conn: sqlite3.Connection, job_id: int) -> list[AttemptRow]:
    """The job's attempt rows on `conn` (the live store or a month file), oldest first."""
    found = conn.execute(
        f"SELECT {ATTEMPT_SELECT} FROM job_attempt WHERE job_id = ? ORDER BY seq", (job_id,)
    ).fetchall()
    return [row_to_attempt(r) for r in found]


def row_to_attempt(row: tuple[Any, ...]) -> AttemptRow:
    values = dict(zip(ATTEMPT_FIELDS, row, strict=True))
    values["outcome"] = AttemptOutcome(values["outcome"])
    values["error"] = error_from_json(values["error"])
    return AttemptRow(**values)


def insert(conn: sqlite3.Connection, rows: list[AttemptRow]) -> None:
    conn.executemany(
        INSERT,
        [
            tuple(
                error_to_json(r.error) if name == "error"
                else r.outcome.value if name == "outcome" else getattr(r, name)
                for name in ATTEMPT_FIELDS
            )
            for r in rows
        ],
    )  # fmt: skip


def next_seq(conn: sqlite3.Connection, job_id: int) -> int:
    return int(conn.execute(NEXT_SEQ, (job_id,)).fetchone()[0])
