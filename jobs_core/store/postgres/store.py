"""`PostgresStore`: the backend shared by engines on many hosts, on one PostgreSQL schema."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TypeVar

import asyncpg

from jobs_core.errors import StoreUnavailableError
from jobs_core.query import JobQuery
from jobs_core.records import (
    BatchStatus,
    CommandDefinition,
    EngineInfo,
    Job,
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
from jobs_core.store.url import parse_store_url

from . import admin, archive, attempts, commands, engines, finish, lookup, queue
from .claims import ClaimLedger
from .connection import Conn, MissingPartitionError
from .database import RETRIES, Database, Work
from .filters import Query, archive_query, archive_top, queue_query
from .history_store import HistoryStoreMixin
from .listener import ChangeListener
from .query_filter import filter_of
from .query_store import QueryStoreMixin
from .rows import row_to_job
from .task_store import TaskStoreMixin

R = TypeVar("R")


class PostgresStore(TaskStoreMixin, HistoryStoreMixin, QueryStoreMixin):
    """The live queue, summaries and month partitions in one schema of a PostgreSQL database.

    `dsn` is a `postgresql://` URL; the schema comes from `schema`, else the URL's `?schema=`,
    else `jobs`. Nothing connects until the first call; the pool belongs to the event loop
    of that call (a later loop gets a fresh pool), and LISTEN has a connection of its own.
    """

    concurrent_writes = True

    def __init__(
        self,
        dsn: str,
        schema: str | None = None,
        settings: Settings | None = None,
        *,
        create: bool = True,
    ) -> None:
        self.settings = settings or Settings()
        self.url = parse_store_url(dsn, schema)
        self.schema = self.url.schema
        self.location = self.url.display
        """Where the store is, for messages: the URL with its password masked."""
        self._dsn = dsn
        self._create = create
        self.channel = f"jobs.{self.schema}"
        """The NOTIFY channel of this store's changes."""
        own_pids: set[int] = set()
        self._db = Database(
            self.url, create=create, durability=self.settings.durability, own_pids=own_pids
        )
        self._listener = ChangeListener(self.url, self.channel, own_pids)
        self._max_log = self.settings.max_log_chars
        self._lock_class = zlib.crc32(self.schema.encode()) - 2**31
        self._claims = ClaimLedger()
        self._months: set[str] = set()
        """Months whose partitions this store has made sure exist."""

    def reopen(self) -> PostgresStore:
        """A second store on the same schema with connections of its own (`jobs.sync` runs
        one on its own event loop), creating the schema only if this one may."""
        return PostgresStore(self._dsn, self.schema, self.settings, create=self._create)

    # -- plumbing ---------------------------------------------------------------------------

    async def _write(self, fn: Work[R]) -> R:
        return await self._db.write(fn)

    async def _read(self, fn: Work[R]) -> R:
        return await self._db.read(fn)

    async def _finishing(
        self, now: int, fn: Work[R], *, engine: bool = False, atomic: bool = True
    ) -> R:
        """Run `fn`, a transaction that moves jobs it finishes into the partitions of the
        month of `now`: created first if this store has not seen that month yet, and again
        if one went missing (an operator detached or dropped it)."""
        month = archive.month_of(now)
        for attempt in range(2):
            if month not in self._months:
                await self._db.one(lambda c: archive.ensure_partitions(c, [month]), engine=engine)
                self._months.add(month)
            try:
                return await self._db.write(fn, engine=engine, atomic=atomic)
            except MissingPartitionError:
                self._months.discard(month)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def open(self) -> None:
        await self._db.pool()

    def change_token(self) -> int:
        """Bumped by every NOTIFY another connection sends on this store (and by the
        listener's fallback probe); starts the listener on first use."""
        self._listener.ensure_started()
        return self._listener.token

    async def wait_change(self, token: int, timeout: float) -> None:
        """Return once `change_token()` moved from `token` (a notification arrived), or after
        `timeout` seconds: waiters sleep on the listener instead of polling."""
        self._listener.ensure_started()
        await self._listener.changed(token, timeout)

    def on_change(self, callback: Callable[[], None] | None) -> None:
        self._listener.on_change = callback
        if callback is not None:
            self._listener.ensure_started()

    async def close(self) -> None:
        await self._listener.close()
        await self._db.close()

    def terminate(self) -> None:
        """Drop the connections now, without waiting: `close` for code that cannot await
        (a test helper leaving a `with` block inside a running loop)."""
        self._listener.terminate()
        self._db.terminate()

    # -- engine hot path --------------------------------------------------------------------

    async def enqueue(self, jobs: list[NewJob], now: int) -> list[int]:
        if not jobs:
            return []
        if queue.needs_checks(jobs):
            return await self._write(lambda c: queue.insert_jobs(c, jobs, now, self.channel))
        return await self._db.one(lambda c: queue.insert_jobs(c, jobs, now, self.channel))

    async def claim(
        self, *, owner: str, commands: list[str], named: bool, limit: int, now: int
    ) -> list[Job]:
        if self._claims.lost:
            await self._db.write(self._claims.release_lost, engine=True)

        async def run(conn: Conn) -> list[Job] | None:
            try:
                return await queue.claim(
                    conn, owner=owner, commands=commands, named=named, limit=limit, now=now,
                    lock_class=self._lock_class,
                )  # fmt: skip
            except asyncpg.UniqueViolationError:
                return None  # a rival's named claim committed after our snapshot: look again

        for _ in range(RETRIES):
            try:
                jobs = await self._db.one(run, engine=True)
            except StoreUnavailableError:
                # The claim may have committed with its answer lost: release its jobs later.
                self._claims.note_lost(owner, now, named)
                raise
            if jobs is not None:
                self._claims.note_claimed(owner, now, named, [j.id for j in jobs])
                return jobs
        return []

    async def finish(
        self, transitions: list[Transition], new_jobs: list[NewJob], now: int
    ) -> FinishResult:
        if not new_jobs:  # without follow-ups, one statement unless a batch is involved
            done = await self._finishing(
                now,
                lambda c: finish.finish_alone(c, transitions, now, self._max_log, self.channel),
                engine=True,
                atomic=False,
            )
            if done is not None:
                return done
        return await self._finishing(
            now,
            lambda c: finish.finish(c, transitions, new_jobs, now, self._max_log, self.channel),
            engine=True,
        )

    async def record_activity(self, updates: list[ActivityUpdate], now: int) -> None:
        await self._db.one(
            lambda c: queue.record_activity(c, updates, now, self._max_log, self.channel),
            engine=True,
        )

    async def archive_finished(self, now: int, limit: int) -> int:
        moved = await self._db.one(lambda c: archive.move_finished(c, limit), engine=True)
        # Attempt rows follow their jobs into the month's partition (rows exist only for
        # retried or requeued jobs, so this is a small table's scan).
        await self._db.one(lambda c: attempts.move_archived(c, limit), engine=True)
        return moved

    async def next_due(self, now: int) -> int | None:
        return await self._db.one(lambda c: queue.next_due(c, now), engine=True)

    # -- engines ----------------------------------------------------------------------------

    async def register_engine(self, engine: EngineRegistration, now: int, lease_ms: int) -> None:
        await self._db.one(lambda c: engines.register(c, engine, now, lease_ms, self.channel))

    async def heartbeat(
        self, engine_id: str, now: int, lease_ms: int, running: int, processed: int, failed: int
    ) -> None:
        await self._db.one(
            lambda c: c.execute(
                engines.HEARTBEAT, now, now + lease_ms, running, processed, failed, engine_id
            ),
            engine=True,
        )

    async def stop_engine(self, engine_id: str, now: int) -> None:
        await self._db.one(lambda c: c.fetch(engines.STOP, engine_id, now, self.channel))

    async def recover_lost(self, now: int, dead: list[str]) -> list[int]:
        async def recover(conn: Conn) -> list[int]:
            await engines.mark_lost(conn, now, dead, self.channel)
            transitions = await engines.lost_transitions(conn, now, dead)
            if not transitions:
                return []
            done = await finish.finish(conn, transitions, [], now, self._max_log, self.channel)
            return done.applied

        return await self._finishing(now, recover, engine=True)

    async def cancel_requested(self, owner: str) -> list[tuple[int, str]]:
        return await self._db.one(lambda c: engines.cancel_requested(c, owner), engine=True)

    async def engines(self, now: int) -> list[EngineInfo]:
        return await self._read(lambda c: engines.engines(c, now))

    async def running_jobs(self) -> list[RunningJob]:
        return await self._read(engines.running_jobs)

    # -- admin ------------------------------------------------------------------------------

    async def get_job(self, job_id: int) -> JobResult | None:
        return await self._lookup(lookup.BY_ID, job_id)

    async def get_job_by_ref(self, ref_id: str) -> JobResult | None:
        return await self._lookup(lookup.BY_REF, ref_id)

    async def _lookup(self, sql: str, key: int | str) -> JobResult | None:
        """One statement, retried once on a fresh connection if the server went away."""
        try:
            return await self._db.one(lambda c: lookup.job_result(c, sql, key))
        except StoreUnavailableError:
            return await self._db.one(lambda c: lookup.job_result(c, sql, key))

    async def request_cancel(self, job_id: int, reason: str, now: int) -> JobState:
        return await self._finishing(
            now,
            lambda c: admin.request_cancel(c, job_id, reason, now, self._max_log, self.channel),
        )

    async def requeue(self, job_id: int, now: int) -> list[int]:
        return await self._write(
            lambda c: admin.requeue(c, job_id, now, self._max_log, self.channel)
        )

    async def list_queue(self, query: JobQuery, cursor: int | None, limit: int) -> Page[Job]:
        """Jobs in the queue (queued, started, executed), oldest first."""
        flt = filter_of(query)
        return await self._read(lambda c: _page(c, queue_query(flt, cursor, limit), limit))

    async def list_archive(
        self, month: str, kind: JobState, query: JobQuery, cursor: int | None, limit: int
    ) -> Page[Job]:
        """Completed (kind=completed) or failed/cancelled jobs of a month, newest first."""
        flt = filter_of(query)
        if not archive.MONTH.match(month):
            return Page(items=[], next_cursor=None)

        async def run(conn: Conn) -> Page[Job]:
            start = cursor
            if flt.text and start is None:
                top = await conn.fetchval(archive_top(kind), *archive.month_bounds(month))
                start = (top or 0) + 1
            return await _page(conn, archive_query(month, kind, flt, start, limit), limit)

        return await self._read(run)

    async def counts(self) -> dict[JobState, int]:
        return await self._read(admin.counts)

    async def months(self) -> list[MonthDatabase]:
        return await self._read(lambda c: archive.months(c, self.schema))

    async def throughput(self, since: int, now: int) -> list[ThroughputBucket]:
        return await self._read(lambda c: admin.throughput(c, since))

    async def batch_status(self, batch_id: str) -> BatchStatus:
        return await self._read(lambda c: admin.batch_status(c, batch_id))

    async def declare_commands(self, definitions: list[CommandDefinition]) -> None:
        await self._write(lambda c: commands.declare(c, definitions))

    async def declared_commands(self) -> list[CommandDefinition]:
        return await self._read(commands.declared)

    async def dependents(self, job_id: int) -> list[JobSummary]:
        """Jobs that depend on `job_id`."""
        return await self._read(lambda c: admin.dependents(c, job_id))


async def _page(conn: Conn, query: Query, limit: int) -> Page[Job]:
    rows = await conn.fetch(query.sql, *query.params)
    items = [row_to_job(r) for r in rows[:limit]]
    if len(rows) > limit:
        return Page(items=items, next_cursor=items[-1].id)
    if query.window_end is not None and query.window_end > 1:
        return Page(items=items, next_cursor=query.window_end)
    return Page(items=items, next_cursor=None)
