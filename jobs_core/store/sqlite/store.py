"""`SqliteStore`: the embedded backend, a directory of SQLite files."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from jobs_core.errors import StoreBusyError, StoreError, StoreNotFoundError
from jobs_core.history import AttemptRow, ending_row, requeue_row
from jobs_core.records import (
    REQUEUEABLE_STATES,
    BatchStatus,
    CommandDefinition,
    EngineInfo,
    ExposedFile,
    Job,
    JobFilter,
    JobResult,
    JobState,
    JobSummary,
    MonthDatabase,
    Page,
    RunningJob,
    ThroughputBucket,
)
from jobs_core.settings import Settings
from jobs_core.store.protocol import (
    ActivityUpdate,
    EngineRegistration,
    FinishResult,
    NewJob,
    Transition,
)

from . import admin, attempts, commands, engines, logs, queue
from .archive import MonthArchive, has_attempts
from .checkpointer import Checkpointer
from .connection import LOOP_BUSY_TIMEOUT_MS, is_busy, open_connection, transaction, translate
from .files import create_private, exposed_files, make_private_dir
from .filters import job_where
from .history_store import HistoryStoreMixin
from .month_reader import month_of
from .retention_store import RetentionStoreMixin
from .rows import JOB_SELECT, row_to_job
from .schema import migrate
from .task_store import TaskStoreMixin

R = TypeVar("R")
BUSY_RETRY_MAX_SECS = 0.005
"""Longest pause between retries of a write that found the database locked; locks are held
for well under a millisecond, so a long pause only leaves the engine idle."""
LIVE_FILE = "jobs.db"


class SqliteStore(TaskStoreMixin, HistoryStoreMixin, RetentionStoreMixin):
    """The live store `jobs.db` plus its month databases, in one directory.

    Hot-path writes run on the event loop's thread (a thread hop per statement would cost
    more than the statement); a lock held by another process is waited for asynchronously.
    Admin reads run in a worker thread on their own connection so they never block the loop.
    """

    concurrent_writes = False

    def __init__(self, directory: str, settings: Settings | None = None, *, create: bool = True):
        self.settings = settings or Settings()
        self.directory = os.path.abspath(directory)
        self.path = os.path.join(self.directory, LIVE_FILE)
        self.location = self.directory
        _check_location(self.directory, self.path, create)
        durability = self.settings.durability
        self._conn = open_connection(
            self.path, durability=durability, busy_timeout_ms=LOOP_BUSY_TIMEOUT_MS
        )
        # Checkpoints run in the background (see checkpointer.py); this is only a safety net.
        self._conn.execute("PRAGMA wal_autocheckpoint = 50000")
        logs.install_functions(self._conn)
        try:
            migrate(self._conn, self.path)
        except sqlite3.DatabaseError as error:
            self._conn.close()
            raise translate(error, self.path) from None
        except StoreError:
            self._conn.close()
            raise
        self._reader = open_connection(
            self.path,
            durability=durability,
            busy_timeout_ms=int(self.settings.busy_timeout_secs * 1000),
        )
        self._read_lock = threading.Lock()
        self._archive = MonthArchive(self.directory, self.path, durability)
        self._checkpointer = Checkpointer(self.path, durability)
        self._max_log = self.settings.max_log_chars

    # -- plumbing ---------------------------------------------------------------------------

    async def _write(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        """Run `fn` in one write transaction on the loop's connection, retrying while busy."""
        return await self._retry_busy(partial(self._in_transaction, fn))

    def _in_transaction(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        # `transaction()` spelled out: this runs once per enqueue, claim and finish.
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
            return result
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def _read(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        """Run `fn` on the read connection in a worker thread."""

        def run() -> R:
            with self._read_lock:
                try:
                    with transaction(self._reader, write=False) as conn:
                        return fn(conn)
                except sqlite3.DatabaseError as error:
                    raise translate(error, self.path) from None

        return await asyncio.to_thread(run)

    async def open(self) -> None:
        """Nothing to do: the files were opened and checked by the constructor."""

    def change_token(self) -> int:
        try:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.DatabaseError as error:
            raise translate(error, self.path) from None

    def on_change(self, callback: Callable[[], None] | None) -> None:
        """Nothing tells SQLite of another process's commit: engines poll `data_version`."""

    async def close(self) -> None:
        self._checkpointer.close()
        self._conn.close()
        with self._read_lock:
            self._reader.close()
        self._archive.close()

    # -- engine hot path --------------------------------------------------------------------

    async def enqueue(self, jobs: list[NewJob], now: int) -> list[int]:
        return await self._write(lambda conn: queue.insert_jobs(conn, jobs, now))

    async def claim(
        self, *, owner: str, commands: list[str], named: bool, limit: int, now: int
    ) -> list[Job]:
        names = json.dumps(commands)
        return await self._write(
            lambda conn: queue.claim(
                conn, owner=owner, commands=names, named=named, limit=limit, now=now
            )
        )

    async def finish(
        self, transitions: list[Transition], new_jobs: list[NewJob], now: int
    ) -> FinishResult:
        return await self._write(
            lambda conn: queue.finish(conn, transitions, new_jobs, now, self._max_log)
        )

    async def record_activity(self, updates: list[ActivityUpdate], now: int) -> None:
        await self._write(lambda conn: queue.record_activity(conn, updates, now, self._max_log))

    async def archive_finished(self, now: int, limit: int) -> int:
        ids = await self._retry_busy(lambda: self._archive.copy_finished(limit))
        if ids:
            encoded = json.dumps(ids)
            await self._write(lambda conn: _delete_archived(conn, encoded))
        return len(ids)

    async def _retry_busy(self, fn: Callable[[], R]) -> R:
        """Call `fn`, retrying asynchronously while another process holds the lock."""
        deadline = time.monotonic() + self.settings.busy_timeout_secs
        delay = 0.0005
        while True:
            try:
                return fn()
            except sqlite3.DatabaseError as error:
                if not is_busy(error):
                    raise translate(error, self.path) from None
                if time.monotonic() > deadline:
                    raise StoreBusyError(
                        f"{self.path} stayed locked by another process for more than "
                        f"{self.settings.busy_timeout_secs:g}s"
                    ) from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, BUSY_RETRY_MAX_SECS)

    async def next_due(self, now: int) -> int | None:
        return queue.next_due(self._conn, now)

    # -- engines ----------------------------------------------------------------------------

    async def register_engine(self, engine: EngineRegistration, now: int, lease_ms: int) -> None:
        await self._write(lambda conn: engines.register(conn, engine, now, lease_ms))

    async def heartbeat(
        self, engine_id: str, now: int, lease_ms: int, running: int, processed: int, failed: int
    ) -> None:
        params = (now, now + lease_ms, running, processed, failed, engine_id)
        await self._write(lambda conn: engines.heartbeat(conn, params))

    async def stop_engine(self, engine_id: str, now: int) -> None:
        await self._write(lambda conn: engines.stop(conn, engine_id, now))

    async def recover_lost(self, now: int, dead: list[str]) -> list[int]:
        def recover(conn: sqlite3.Connection) -> list[int]:
            engines.mark_lost(conn, now, dead)
            transitions = engines.lost_transitions(conn, now, dead)
            if not transitions:
                return []
            return queue.finish(conn, transitions, [], now, self._max_log).applied

        return await self._write(recover)

    async def cancel_requested(self, owner: str) -> list[tuple[int, str]]:
        return engines.cancel_requested(self._conn, owner)

    async def engines(self, now: int) -> list[EngineInfo]:
        return await self._read(lambda conn: engines.engines(conn, now))

    async def running_jobs(self) -> list[RunningJob]:
        return await self._read(engines.running_jobs)

    # -- admin ------------------------------------------------------------------------------

    async def get_job(self, job_id: int) -> JobResult | None:
        found = await self._read(lambda conn: admin.summary(conn, job_id))
        return await self._result(found)

    async def get_job_by_ref(self, ref_id: str) -> JobResult | None:
        found = await self._read(lambda conn: admin.summary_by_ref(conn, ref_id))
        return await self._result(found)

    async def _result(self, found: JobSummary | None) -> JobResult | None:
        if found is None:
            return None
        job = await self._read(lambda conn: admin.live_job(conn, found.id))
        if job is None and found.completed_date is not None:
            month = month_of(found.completed_date)
            job = await self._read_archived(month, found.state, found.id)
        if job is None:
            return JobResult(summary=found)
        if job.state is JobState.COMPLETED:
            return JobResult(summary=found, completed=job)
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            return JobResult(summary=found, failed=job)
        return JobResult(summary=found, queued=job)

    async def request_cancel(self, job_id: int, reason: str, now: int) -> JobState:
        return await self._write(
            lambda conn: admin.request_cancel(conn, job_id, reason, now, self._max_log)
        )

    async def requeue(self, job_id: int, now: int) -> list[int]:
        """Requeue a failed/cancelled job and the dependents its failure cancelled.

        Returns the ids requeued, the job first.
        """
        requeued: list[int] = []
        pending: list[tuple[int, int | None]] = [(job_id, None)]
        while pending:
            current, parent = pending.pop(0)
            await self._requeue_one(current, parent, now)
            requeued.append(current)
            dependents = await self._read(partial(admin.dependents_cancelled_by, job_id=current))
            pending.extend((d.id, current) for d in dependents)
        return requeued

    async def _requeue_one(self, job_id: int, wait_on: int | None, now: int) -> None:
        found = admin.check_requeueable(
            await self._read(lambda conn: admin.summary(conn, job_id)), job_id
        )
        archived: Job | None = None
        archived_rows: list[AttemptRow] = []
        month: str | None = None
        if found.completed_date is not None:
            month = month_of(found.completed_date)
            archived = await self._read_archived(month, found.state, job_id)
            if archived is not None:
                archived_rows = await self._read_month_attempts(month, job_id)

        def requeue(conn: sqlite3.Connection) -> None:
            live = admin.live_job(conn, job_id)
            if live is not None and live.state in REQUEUEABLE_STATES:
                rows, seq = [], attempts.next_seq(conn, job_id)
                ending = ending_row(live, seq, now)
                logs = admin.requeue_live(conn, job_id, now, self._max_log) or live.logs
            elif archived is not None:
                rows = list(archived_rows)
                seq = max((r.seq for r in rows), default=0) + 1
                ending = ending_row(archived, seq, now)
                logs = admin.requeue_archived(conn, archived, now, self._max_log)
            else:
                raise StoreError(
                    f"job {job_id} cannot be requeued: its row is in neither the queue nor "
                    f"the month database jobs_{month}.db (was the file removed?)"
                )
            if ending is not None:
                rows.append(ending)
            rows.append(requeue_row(job_id, rows[-1].seq + 1 if rows else seq, now, logs))
            attempts.insert(conn, rows)
            admin.after_requeue(conn, job_id, found.state)
            if wait_on is not None:
                admin.wait_on(conn, job_id, wait_on)

        await self._write(requeue)
        if archived is not None and month is not None:
            await self._retry_busy(lambda: self._archive.delete_failed(month, job_id))

    async def list_queue(self, flt: JobFilter, cursor: int | None, limit: int) -> Page[Job]:
        """Jobs in the queue (queued, started, executed), oldest first."""

        def run(conn: sqlite3.Connection) -> Page[Job]:
            where, params, _ = job_where(flt, cursor, descending=False)
            rows = conn.execute(
                f"SELECT {JOB_SELECT} FROM background_job WHERE state IN "
                f"('queued', 'started', 'executed') AND {where} ORDER BY id LIMIT ?",
                [*params, limit + 1],
            ).fetchall()
            items = [row_to_job(r) for r in rows[:limit]]
            return Page(items=items, next_cursor=items[-1].id if len(rows) > limit else None)

        return await self._read(run)

    async def list_archive(
        self, month: str, kind: JobState, flt: JobFilter, cursor: int | None, limit: int
    ) -> Page[Job]:
        """Completed (kind=completed) or failed/cancelled jobs of a month, newest first;
        StoreError naming the file if the month's file cannot be read."""
        return await asyncio.to_thread(
            self._archive.reader.list_jobs, month, kind, flt, cursor, limit
        )

    async def _read_month_attempts(self, month: str, job_id: int) -> list[AttemptRow]:
        return await asyncio.to_thread(self._archive.reader.read_attempts, month, job_id)

    async def _read_archived(self, month: str, state: JobState, job_id: int) -> Job | None:
        try:
            return await asyncio.to_thread(self._archive.reader.read_job, month, state, job_id)
        except StoreError as error:
            raise StoreError(
                f"job {job_id} is archived in a month file that cannot be read: {error}"
            ) from None

    async def counts(self) -> dict[JobState, int]:
        return await self._read(admin.counts)

    async def months(self) -> list[MonthDatabase]:
        return await asyncio.to_thread(self._archive.months)

    async def throughput(self, since: int, now: int) -> list[ThroughputBucket]:
        return await self._read(lambda conn: admin.throughput(conn, since))

    async def batch_status(self, batch_id: str) -> BatchStatus:
        return await self._read(lambda conn: admin.batch_status(conn, batch_id))

    async def declare_commands(self, definitions: list[CommandDefinition]) -> None:
        await self._write(lambda conn: commands.declare(conn, definitions))

    async def declared_commands(self) -> list[CommandDefinition]:
        return await self._read(commands.declared)

    async def dependents(self, job_id: int) -> list[JobSummary]:
        """Jobs that depend on `job_id`."""

        return await self._read(partial(admin.dependents, job_id=job_id))

    def exposed_files(self) -> list[ExposedFile]:
        return exposed_files(self.directory)


def _delete_archived(conn: sqlite3.Connection, ids: str) -> None:
    """Remove jobs (and their attempts) now copied to their month files."""
    conn.execute(
        "DELETE FROM background_job WHERE id IN (SELECT value FROM json_each(?)) "
        "AND state IN ('completed', 'failed', 'cancelled')",
        (ids,),
    )
    if not has_attempts(conn, "main"):
        return
    # Not the attempts of a job requeued meanwhile: it stayed, and they are its history.
    conn.execute(
        "DELETE FROM job_attempt WHERE job_id IN (SELECT value FROM json_each(?)) "
        "AND job_id NOT IN (SELECT b.id FROM background_job b "
        "WHERE b.id IN (SELECT value FROM json_each(?)))",
        (ids, ids),
    )


def _check_location(directory: str, path: str, create: bool) -> None:
    """Refuse a missing store unless `create`; else make its directory and `jobs.db`
    private to their owner if they are new."""
    _check_directory(directory, path, create)
    if create:
        try:
            create_private(path)
        except OSError as error:
            raise StoreError(f"cannot create {path}: {error}") from None


def _check_directory(directory: str, path: str, create: bool) -> None:
    if os.path.isdir(directory):
        if not create and not os.path.exists(path):
            raise StoreNotFoundError(f"{directory} is not a jobs store (it has no {LIVE_FILE})")
        return
    if os.path.exists(directory):
        raise StoreNotFoundError(f"{directory} is not a directory")
    if not create:
        raise StoreNotFoundError(f"{directory} does not exist")
    try:
        make_private_dir(directory)
    except OSError as error:
        raise StoreError(f"cannot create the store directory {directory}: {error}") from None
