"""Reading month databases: single jobs, queries, and the health of each month file.

A month file that cannot be read (corrupt, truncated, unreadable) fails only the calls
about that month, with a StoreError naming the file; every other month keeps working.
"""

from __future__ import annotations

import calendar
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from jobs_core.errors import StoreError
from jobs_core.history import AttemptRow
from jobs_core.records import Job, JobState, MonthDatabase
from jobs_core.settings import Durability

from . import attempts
from .connection import open_connection, translate
from .files import MONTH_DATABASE
from .month_schema import MONTH_SEARCH_VERSION, month_select
from .rows import row_to_job

R = TypeVar("R")
READ_BUSY_TIMEOUT_MS = 5000


def month_of(ms: int) -> str:
    """`YYYY-MM` of a UTC epoch-millisecond time."""
    global _last_month
    start, end, month = _last_month  # one tuple, read once: safe beside other threads
    if start <= ms < end:
        return month
    t = time.gmtime(ms // 1000)
    month = f"{t.tm_year:04d}-{t.tm_mon:02d}"
    _last_month = (*month_bounds(month), month)
    return month


_last_month: tuple[int, int, str] = (0, 0, "")
"""The month `month_of` named last, with its bounds: the archive asks it of every finished
job, nearly all in the same month (0.96 µs a call without it, measured)."""


def month_path(directory: str, month: str) -> str:
    return os.path.join(directory, f"jobs_{month}.db")


def month_bounds(month: str) -> tuple[int, int]:
    """[start, end) of a `YYYY-MM` month in UTC epoch milliseconds."""
    year, number = (int(part) for part in month.split("-"))
    end_year, end_month = (year + 1, 1) if number == 12 else (year, number + 1)
    return (
        calendar.timegm((year, number, 1, 0, 0, 0)) * 1000,
        calendar.timegm((end_year, end_month, 1, 0, 0, 0)) * 1000,
    )


def table_for(state: JobState) -> str:
    return "completed_job" if state is JobState.COMPLETED else "failed_job"


class MonthReader:
    """Read connections to month files, one per month, opened on first use.

    A connection that failed is closed and dropped, so a repaired or replaced file is
    opened afresh by the next call.
    """

    def __init__(self, directory: str, durability: Durability) -> None:
        self._directory = directory
        self._durability = durability
        self._conns: dict[str, sqlite3.Connection] = {}
        self._lock = threading.Lock()

    def read_job(self, month: str, state: JobState, job_id: int) -> Job | None:
        """The archived row of `job_id`, or None if the month file or the row is missing."""

        def read(conn: sqlite3.Connection) -> Any:
            sql = f"SELECT {select_of(conn)} FROM {table_for(state)} WHERE id = ?"
            return conn.execute(sql, (job_id,)).fetchone()

        row = self.run(month, read)
        return row_to_job(row) if row else None

    def read_attempts(self, month: str, job_id: int) -> list[AttemptRow]:
        """The archived attempt rows of `job_id` (none in a month written before history)."""

        def read(conn: sqlite3.Connection) -> list[AttemptRow]:
            if conn.execute("PRAGMA user_version").fetchone()[0] < MONTH_SEARCH_VERSION:
                return []
            return attempts.rows_of(conn, job_id)

        return self.run(month, read) or []

    def read_jobs(self, month: str, table: str, job_ids: list[int]) -> list[Job]:
        """The rows of `job_ids` in a month's `completed_job` or `failed_job`."""

        def read(conn: sqlite3.Connection) -> list[Any]:
            sql = (
                f"SELECT {select_of(conn)} FROM {table} "
                "WHERE id IN (SELECT value FROM json_each(?))"
            )
            return conn.execute(sql, (json.dumps(job_ids),)).fetchall()

        return [row_to_job(row) for row in self.run(month, read) or []]

    def months(self, write_errors: dict[str, str]) -> list[MonthDatabase]:
        """Every month file, newest first, each with the error that keeps it from being read
        (or, from `write_errors`, written), if any."""
        found: list[MonthDatabase] = []
        for name in sorted(os.listdir(self._directory), reverse=True):
            match = MONTH_DATABASE.match(name)
            if not match:
                continue
            month = match.group(1)
            path = os.path.join(self._directory, name)
            size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
            error = self._probe(month) or write_errors.get(month)
            found.append(MonthDatabase(month=month, path=path, size_bytes=size, error=error))
        return found

    def _probe(self, month: str) -> str | None:
        """Why the month cannot be read, or None; cheap (two index lookups), so a damaged
        page elsewhere is found only when a listing reaches it."""

        def probe(conn: sqlite3.Connection) -> None:
            for table in ("completed_job", "failed_job"):
                conn.execute(f"SELECT max(id) FROM {table}").fetchone()

        try:
            self.run(month, probe)
        except StoreError as error:
            return str(error)
        return None

    def run(self, month: str, fn: Callable[[sqlite3.Connection], R]) -> R | None:
        """`fn` on the month's connection (the month's full job row is `select_of(conn)`);
        None when the month has no file or no tables yet. Calls are serialised: the
        connections are shared between threads.

        Raises StoreError naming the month file when it cannot be read.
        """
        path = month_path(self._directory, month)
        with self._lock:
            try:
                conn = self._open(month, path)
                return None if conn is None else fn(conn)
            except sqlite3.DatabaseError as error:
                self._drop(month)
                raise translate(error, path) from None

    def forget(self, month: str) -> None:
        """Close the month's connection (its file is being removed)."""
        with self._lock:
            self._drop(month)

    def _open(self, month: str, path: str) -> sqlite3.Connection | None:
        conn = self._conns.get(month)
        if conn is not None:
            return conn
        if not os.path.exists(path):
            return None
        conn = open_connection(
            path, durability=self._durability, busy_timeout_ms=READ_BUSY_TIMEOUT_MS,
            readonly=True,
        )  # fmt: skip
        version: Any = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < 1:
            conn.close()  # created, tables not yet written: no jobs so far
            return None
        self._conns[month] = conn
        return conn

    def _drop(self, month: str) -> None:
        conn = self._conns.pop(month, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._conns.values():
                conn.close()
            self._conns.clear()


def select_of(conn: sqlite3.Connection) -> str:
    """The job column list to read a month database with, whichever version wrote it (read
    each time: the current month is migrated by the archiver while readers keep it open)."""
    return month_select(conn.execute("PRAGMA user_version").fetchone()[0])
