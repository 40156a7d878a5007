"""Month databases: moving finished jobs into `jobs_YYYY-MM.db` and reading them back."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections import defaultdict

from jobs_core.records import Job, JobState, MonthDatabase
from jobs_core.settings import Durability

from .connection import open_connection, transaction
from .files import create_private
from .rows import JOB_SELECT, row_to_job
from .schema import month_ddl

MONTH_FILE = re.compile(r"^jobs_(\d{4}-\d{2})\.db$")
MONTH_VERSION = 1

SELECT_FINISHED = """
SELECT id, state, completed_date FROM background_job INDEXED BY ix_job_state
WHERE state <> 'queued' AND state IN ('completed', 'failed', 'cancelled')
ORDER BY state, id LIMIT ?
"""


def month_of(ms: int) -> str:
    """`YYYY-MM` of a UTC epoch-millisecond time."""
    t = time.gmtime(ms // 1000)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}"


def month_path(directory: str, month: str) -> str:
    return os.path.join(directory, f"jobs_{month}.db")


def table_for(state: JobState) -> str:
    return "completed_job" if state is JobState.COMPLETED else "failed_job"


class MonthArchive:
    """Writes finished jobs into month databases and reads them back.

    Writing uses its own connection with the month databases attached, so the attachments
    never widen the locks of the hot-path connection.
    """

    def __init__(self, directory: str, live_path: str, durability: Durability) -> None:
        self._directory = directory
        self._durability = durability
        self._writer = open_connection(live_path, durability=durability, busy_timeout_ms=5)
        self._writer.execute("PRAGMA wal_autocheckpoint = 50000")
        self._attached: set[str] = set()
        self._ready: set[str] = set()
        self._readers: dict[str, sqlite3.Connection] = {}
        self._read_lock = threading.Lock()

    def copy_finished(self, limit: int) -> list[int]:
        """Copy up to `limit` finished live rows into their month databases; returns their ids.

        Idempotent: a crash after this and before the caller deletes the live rows only
        means the next pass copies them again (INSERT OR REPLACE).
        """
        rows = self._writer.execute(SELECT_FINISHED, (limit,)).fetchall()
        by_month: dict[str, list[tuple[int, JobState]]] = defaultdict(list)
        for job_id, state, completed_date in rows:
            by_month[month_of(completed_date)].append((job_id, JobState(state)))
        for month, jobs in by_month.items():
            schema = self._attach(month)
            done = json.dumps([i for i, s in jobs if s is JobState.COMPLETED])
            stopped = json.dumps([i for i, s in jobs if s is not JobState.COMPLETED])
            with transaction(self._writer, write=False) as conn:
                conn.execute(_copy_sql(schema, "completed_job", "= 'completed'"), (done,))
                conn.execute(
                    _copy_sql(schema, "failed_job", "IN ('failed', 'cancelled')"), (stopped,)
                )
                # A requeued job may have left its old failed row in this month.
                conn.execute(
                    f"DELETE FROM {schema}.failed_job WHERE id IN (SELECT value FROM json_each(?))",
                    (done,),
                )
        return [row[0] for row in rows]

    def _attach(self, month: str) -> str:
        schema = "m_" + month.replace("-", "_")
        if schema in self._ready:
            return schema
        if schema not in self._attached:
            path = month_path(self._directory, month)
            create_private(path)
            self._writer.execute("ATTACH DATABASE ? AS " + schema, (path,))
            self._attached.add(schema)
        # Another engine may hold the new file's lock; this part is retried until it is done.
        self._writer.execute(f"PRAGMA {schema}.journal_mode = WAL")
        self._writer.execute(f"PRAGMA {schema}.synchronous = {self._durability.value}")
        if self._writer.execute(f"PRAGMA {schema}.user_version").fetchone()[0] < MONTH_VERSION:
            with transaction(self._writer) as conn:
                for statement in month_ddl(schema):
                    conn.execute(statement)
                conn.execute(f"PRAGMA {schema}.user_version = {MONTH_VERSION}")
        self._ready.add(schema)
        return schema

    def reader(self, month: str) -> sqlite3.Connection | None:
        """A read connection to a month database, or None if the file does not exist."""
        with self._read_lock:
            conn = self._readers.get(month)
            if conn is not None:
                return conn
            path = month_path(self._directory, month)
            if not os.path.exists(path):
                return None
            conn = open_connection(
                path, durability=self._durability, busy_timeout_ms=5000, readonly=True
            )
            self._readers[month] = conn
            return conn

    def read_job(self, month: str, state: JobState, job_id: int) -> Job | None:
        conn = self.reader(month)
        if conn is None:
            return None
        with self._read_lock:
            row = conn.execute(
                f"SELECT {JOB_SELECT} FROM {table_for(state)} WHERE id = ?", (job_id,)
            ).fetchone()
        return row_to_job(row) if row else None

    def delete_failed(self, month: str, job_id: int) -> None:
        """Remove a requeued job's row from its month's `failed_job`."""
        schema = self._attach(month)
        with transaction(self._writer, write=False) as conn:
            conn.execute(f"DELETE FROM {schema}.failed_job WHERE id = ?", (job_id,))

    def months(self) -> list[MonthDatabase]:
        found: list[MonthDatabase] = []
        for name in sorted(os.listdir(self._directory), reverse=True):
            match = MONTH_FILE.match(name)
            if not match:
                continue
            path = os.path.join(self._directory, name)
            size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
            found.append(MonthDatabase(month=match.group(1), path=path, size_bytes=size))
        return found

    def close(self) -> None:
        self._writer.close()
        with self._read_lock:
            for conn in self._readers.values():
                conn.close()
            self._readers.clear()


def _copy_sql(schema: str, table: str, state_test: str) -> str:
    return (
        f"INSERT OR REPLACE INTO {schema}.{table} ({JOB_SELECT}) "
        f"SELECT {JOB_SELECT} FROM main.background_job "
        f"WHERE id IN (SELECT value FROM json_each(?)) AND state {state_test}"
    )
