"""Month databases: moving finished jobs into `jobs_YYYY-MM.db`, month by month.

A month file that cannot be written (corrupt, disk full) holds back only its own jobs:
they stay in the live store, the month is retried with a growing pause and logged once
per interval, and every other month keeps being archived.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass

from jobs_core.backoff import Backoff
from jobs_core.errors import ReadOnlyStoreError
from jobs_core.records import JobState, MonthDatabase
from jobs_core.settings import Durability

from .archive_order import NO_BOUND, ArchiveOrder
from .attempts import ATTEMPT_SELECT
from .connection import is_busy, open_connection, transaction, translate
from .files import create_private
from .month_reader import MonthReader, month_bounds, month_path, table_for
from .month_schema import MONTH_TABLES, MONTH_VERSION, month_ddl, search_values
from .rows import JOB_SELECT

log = logging.getLogger("jobs.store")

MONTH_RETRY_MAX_SECS = 60.0
"""Longest pause between tries of a month file that cannot be written."""

SELECT_FINISHED = """
SELECT strftime('%Y-%m', completed_date / 1000, 'unixepoch'),
       json_group_array(id) FILTER (WHERE state = 'completed'),
       json_group_array(id) FILTER (WHERE state <> 'completed'),
       json_group_array(id), count(*)
FROM (
  SELECT id, state, completed_date FROM background_job INDEXED BY ix_job_state
  WHERE state <> 'queued' AND state IN ('completed', 'failed', 'cancelled') AND id < :bound
    AND NOT EXISTS (SELECT 1 FROM json_each(:held) h
                    WHERE completed_date >= h.value ->> 0 AND completed_date < h.value ->> 1)
  ORDER BY state, id LIMIT :limit
)
GROUP BY 1
"""
"""Finished jobs to archive, below `:bound` (`archive_order.py`), but not those of months
held back after a failure (`:held`
is a JSON list of [start, end) times), so those never crowd out the other months: a row a
month (its UTC month, as `month_of` names it), with the JSON arrays of the ids of its
completed jobs, of its failed and cancelled ones, and of all, and their count. The copy
runs in the store's thread, which holds the GIL while it runs Python and must win it back
after each step (`off_loop.py`): so a step a month, not a row a job, and no Python a job
(a pass of 2,000 decoded and grouped in Python held the GIL 2-4.6 ms at a stretch)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Copied:
    """What a pass copied into the month files: the ids (JSON arrays, one a month) whose
    live rows can go, and how many."""

    ids: list[str]
    count: int


class MonthArchive:
    """Writes finished jobs into month databases; `reader` reads them back.

    Writing uses its own connection with the month databases attached, so the attachments
    never widen the locks of the hot-path connection.
    """

    def __init__(
        self, directory: str, live_path: str, durability: Durability, *, read_only: bool = False
    ) -> None:
        self._directory = directory
        self._durability = durability
        self._live_path = live_path
        self._read_only = read_only
        self._writer_conn: sqlite3.Connection | None = None
        self._attached: set[str] = set()
        self._ready: set[str] = set()
        self._trouble: dict[str, Backoff] = {}
        self._order = ArchiveOrder()
        self.reader = MonthReader(directory, durability)

    @property
    def _writer(self) -> sqlite3.Connection:
        """The writing connection, opened on first use (never in a read-only store)."""
        if self._read_only:
            raise ReadOnlyStoreError(f"{self._directory} is open read-only: nothing can be changed")
        if self._writer_conn is None:
            self._writer_conn = open_connection(
                self._live_path, durability=self._durability, busy_timeout_ms=5
            )
            self._writer_conn.execute("PRAGMA wal_autocheckpoint = 50000")
            # A row replaced by a re-copy must leave the month's search index through its
            # trigger.
            self._writer_conn.execute("PRAGMA recursive_triggers = ON")
        return self._writer_conn

    def copy_finished(self, limit: int, now: int, *, in_order: bool = False) -> Copied:
        """Copy up to `limit` finished live rows into their month databases; returns what
        was copied (the caller deletes those live rows). `in_order`: only those below the
        first job still active, for up to `ORDER_WAIT_MS` (`archive_order.py`).

        Idempotent: a crash after this and before the caller deletes the live rows only
        means the next pass copies them again (INSERT OR REPLACE). A lock held by another
        process raises (the caller retries); any other failure holds back that month only.
        """
        held = json.dumps([month_bounds(m) for m, b in self._trouble.items() if not b.due()])
        bound = self._order.bound(self._writer, now) if in_order else NO_BOUND
        months = self._writer.execute(
            SELECT_FINISHED, {"held": held, "limit": limit, "bound": bound}
        ).fetchall()
        ids: list[str] = []
        count = 0
        for month, done, stopped, every, n in months:
            try:
                self._copy(month, done, stopped, every)
            except sqlite3.DatabaseError as error:
                if is_busy(error):
                    raise
                self._failed(month, error)
                continue
            if month in self._trouble:
                self._trouble.pop(month).succeeded()
            ids.append(every)
            count += n
        if in_order:
            self._order.copied(bound, sum(n for *_, n in months), limit)
        return Copied(ids=ids, count=count)

    def _copy(self, month: str, done: str, stopped: str, every: str) -> None:
        """Copy the month's jobs (`done`: completed, `stopped`: failed or cancelled, `every`:
        both; JSON arrays of ids)."""
        schema = self._attach(month)
        with transaction(self._writer, write=False) as conn:
            # A requeued job may have left its old failed row in this month.
            conn.execute(
                f"DELETE FROM {schema}.failed_job WHERE id IN (SELECT value FROM json_each(?))",
                (done,),
            )
            conn.execute(_copy_sql(schema, "completed_job", "= 'completed'"), (done,))
            conn.execute(_copy_sql(schema, "failed_job", "IN ('failed', 'cancelled')"), (stopped,))
            conn.execute(_index_sql(schema), (every,))
            if not has_attempts(conn, "main"):
                return
            conn.execute(
                f"INSERT OR REPLACE INTO {schema}.job_attempt ({ATTEMPT_SELECT}) "
                f"SELECT {ATTEMPT_SELECT} FROM main.job_attempt "
                "WHERE job_id IN (SELECT value FROM json_each(?))",
                (every,),
            )

    def _failed(self, month: str, error: sqlite3.DatabaseError) -> None:
        path = month_path(self._directory, month)
        # Detach, so the next try opens the file at its path again: the operator may have
        # moved a corrupt file away, or freed space.
        schema = _schema(month)
        if schema in self._attached:
            try:
                self._writer.execute(f"DETACH DATABASE {schema}")
            except sqlite3.DatabaseError:
                pass  # detached with the connection's next attach of the same name
            else:
                self._attached.discard(schema)
        self._ready.discard(schema)
        trouble = self._trouble.get(month)
        if trouble is None:
            trouble = Backoff(
                f"archiving finished jobs into {path} (they stay in the live store)", log,
                first_secs=1.0, max_secs=MONTH_RETRY_MAX_SECS,
            )  # fmt: skip
            self._trouble[month] = trouble
        trouble.failed(translate(error, path))

    def _attach(self, month: str) -> str:
        schema = _schema(month)
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
                # Read again under the lock: another engine may have migrated meanwhile.
                version = conn.execute(f"PRAGMA {schema}.user_version").fetchone()[0]
                for statement in month_ddl(schema, version):
                    conn.execute(statement)
                conn.execute(f"PRAGMA {schema}.user_version = {MONTH_VERSION}")
        self._ready.add(schema)
        return schema

    def delete_failed(self, month: str, job_id: int) -> None:
        """Remove a requeued job's row from its month's `failed_job`, and its attempts (they
        go back to the live store with it)."""
        self.delete_rows(month, [job_id], tables=("failed_job",))

    def delete_rows(
        self,
        month: str,
        job_ids: list[int],
        tables: tuple[str, ...] = ("completed_job", "failed_job"),
    ) -> None:
        """Remove the rows of `job_ids` from a month's tables (requeued or deleted jobs), with
        their attempts (and search entries, by trigger); StoreError naming the month file if
        it cannot be written."""
        if not os.path.exists(month_path(self._directory, month)):
            return
        encoded = json.dumps(job_ids)
        try:
            schema = self._attach(month)
            with transaction(self._writer, write=False) as conn:
                for table in tables:
                    conn.execute(
                        f"DELETE FROM {schema}.{table} "
                        "WHERE id IN (SELECT value FROM json_each(?))",
                        (encoded,),
                    )
                conn.execute(
                    f"DELETE FROM {schema}.job_attempt "
                    "WHERE job_id IN (SELECT value FROM json_each(?))",
                    (encoded,),
                )
        except sqlite3.DatabaseError as error:
            if is_busy(error):
                raise
            raise translate(error, month_path(self._directory, month)) from None

    def delete_older(
        self, month: str, limits: dict[JobState, int], step: int, keep: int | None = None
    ) -> Counter[JobState]:
        """Remove up to `step` jobs per table of `month` whose state has a limit and which
        finished before it, but not job `keep`, with their attempts (and search entries, by
        trigger)."""
        schema = self._attach(month)
        removed: Counter[JobState] = Counter()
        with transaction(self._writer, write=False) as conn:
            for table in MONTH_TABLES:
                wanted = {s: t for s, t in limits.items() if table_for(s) == table}
                if not wanted:
                    continue
                test = " OR ".join("(state = ? AND completed_date < ?)" for _ in wanted)
                params = [v for pair in wanted.items() for v in (pair[0].value, pair[1])]
                rows = conn.execute(
                    f"DELETE FROM {schema}.{table} WHERE id IN (SELECT id FROM "
                    f"{schema}.{table} WHERE ({test}) AND id IS NOT ? LIMIT ?) "
                    "RETURNING id, state",
                    [*params, keep, step],
                ).fetchall()
                removed.update(JobState(state) for _, state in rows)
                conn.execute(
                    f"DELETE FROM {schema}.job_attempt "
                    "WHERE job_id IN (SELECT value FROM json_each(?))",
                    (json.dumps([job_id for job_id, _ in rows]),),
                )
        return removed

    def drop_month(self, month: str) -> None:
        """Remove the month's file (and its -wal and -shm) at once."""
        schema = _schema(month)
        if schema in self._attached:
            self._writer.execute(f"DETACH DATABASE {schema}")
            self._attached.discard(schema)
        self._ready.discard(schema)
        self._trouble.pop(month, None)
        self.reader.forget(month)
        path = month_path(self._directory, month)
        for name in (path, path + "-wal", path + "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(name)

    def months(self) -> list[MonthDatabase]:
        """Every month file, newest first, with why it cannot be read or written, if so."""
        errors = {m: b.last_error for m, b in list(self._trouble.items()) if b.last_error}
        return self.reader.months(errors)

    def close(self) -> None:
        # Readers first: the last connection to close checkpoints and removes the -wal
        # file, which a read-only one cannot do.
        self.reader.close()
        if self._writer_conn is not None:
            self._writer_conn.close()


def _schema(month: str) -> str:
    return "m_" + month.replace("-", "_")


def has_attempts(conn: sqlite3.Connection, schema: str) -> bool:
    """Whether any attempt rows exist (most stores have none: no job was retried): the
    archive then skips copying and deleting them (0.5 µs a job, measured)."""
    return conn.execute(f"SELECT 1 FROM {schema}.job_attempt LIMIT 1").fetchone() is not None


@functools.cache
def _index_sql(schema: str) -> str:
    """Index the text of the jobs just copied into the month (a row the copy replaced was
    unindexed by its delete trigger)."""
    return (
        f"INSERT INTO {schema}.job_text(rowid, body) SELECT id, {search_values('')} "
        "FROM main.background_job WHERE id IN (SELECT value FROM json_each(?))"
    )


def _copy_sql(schema: str, table: str, state_test: str) -> str:
    return (
        f"INSERT OR REPLACE INTO {schema}.{table} ({JOB_SELECT}) "
        f"SELECT {JOB_SELECT} FROM main.background_job "
        f"WHERE id IN (SELECT value FROM json_each(?)) AND state {state_test}"
    )
