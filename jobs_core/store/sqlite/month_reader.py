"""Reading month databases: listing, single jobs, and the health of each month file.

A month file that cannot be read (corrupt, truncated, unreadable) fails only the calls
about that month, with a StoreError naming the file; every other month keeps working.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from jobs_core.errors import StoreError
from jobs_core.history import AttemptRow
from jobs_core.records import Job, JobFilter, JobState, MonthDatabase, Page
from jobs_core.settings import Durability

from . import attempts
from .connection import open_connection, translate
from .filters import job_where
from .rows import row_to_job
from .schema import MONTH_SEARCH_VERSION, month_select

R = TypeVar("R")
MONTH_FILE = re.compile(r"^jobs_(\d{4}-\d{2})\.db$")
READ_BUSY_TIMEOUT_MS = 5000


def month_of(ms: int) -> str:
    """`YYYY-MM` of a UTC epoch-millisecond time."""
    t = time.gmtime(ms // 1000)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}"


def month_path(directory: str, month: str) -> str:
    return os.path.join(directory, f"jobs_{month}.db")


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

        row = self._run(month, read)
        return row_to_job(row) if row else None

    def read_attempts(self, month: str, job_id: int) -> list[AttemptRow]:
        """The archived attempt rows of `job_id` (none in a month written before history)."""

        def read(conn: sqlite3.Connection) -> list[AttemptRow]:
            if conn.execute("PRAGMA user_version").fetchone()[0] < MONTH_SEARCH_VERSION:
                return []
            return attempts.rows_of(conn, job_id)

        return self._run(month, read) or []

    def list_jobs(
        self, month: str, kind: JobState, flt: JobFilter, cursor: int | None, limit: int
    ) -> Page[Job]:
        """Completed (kind=completed) or failed/cancelled jobs of a month, newest first."""
        table = table_for(kind)

        def page(conn: sqlite3.Connection) -> Page[Job]:
            start = cursor
            if flt.text and start is None:
                top = conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
                start = (top or 0) + 1
            where, params, window_end = job_where(flt, start, descending=True)
            rows = conn.execute(
                f"SELECT {select_of(conn)} FROM {table} WHERE {where} ORDER BY id DESC LIMIT ?",
                [*params, limit + 1],
            ).fetchall()
            items = [row_to_job(r) for r in rows[:limit]]
            if len(rows) > limit:
                return Page(items=items, next_cursor=items[-1].id)
            if window_end is not None and window_end > 1:
                return Page(items=items, next_cursor=window_end)
            return Page(items=items, next_cursor=None)

        return self._run(month, page) or Page(items=[], next_cursor=None)

    def months(self, write_errors: dict[str, str]) -> list[MonthDatabase]:
        """Every month file, newest first, each with the error that keeps it from being read
        (or, from `write_errors`, written), if any."""
        found: list[MonthDatabase] = []
        for name in sorted(os.listdir(self._directory), reverse=True):
            match = MONTH_FILE.match(name)
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
            self._run(month, probe)
        except StoreError as error:
            return str(error)
        return None

    def run(self, month: str, fn: Callable[[sqlite3.Connection], R]) -> R | None:
        """`fn` on the month's read connection; None when the month has no file or tables.
        StoreError naming the file when it cannot be read."""
        return self._run(month, fn)

    def forget(self, month: str) -> None:
        """Close the month's connection (its file is being removed)."""
        with self._lock:
            self._drop(month)

    def _run(self, month: str, fn: Callable[[sqlite3.Connection], R]) -> R | None:
        """`fn` on the month's connection; None when the month has no file or no tables yet.

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
