"""`PostgresStore`: the backend shared by engines on many hosts, on one PostgreSQL schema."""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from jobs_core.errors import StoreUnavailableError
from jobs_core.figures import FIGURES_KEPT_MS
from jobs_core.flow import WaitFacts
from jobs_core.flow_records import QueueInfo, QueueSettings
from jobs_core.records import (
    EngineInfo,
    Job,
    RunningJob,
)
from jobs_core.settings import Settings
from jobs_core.store.protocol import (
    ActivityUpdate,
    EngineRegistration,
    EnqueuedIds,
    FinishResult,
    JobColumns,
    NewJob,
    QueueChange,
    Transition,
)
from jobs_core.store.url import parse_store_url

from . import (
    archive,
    attempts,
    conflicts,
    engines,
    finish,
    flow_admin,
    flow_claims,
    queue,
    tallies,
)
from .admin_store import AdminStoreMixin
from .claims import ClaimLedger
from .connection import Conn, MissingPartitionError
from .database import RETRIES, Database, Work
from .default_idle import DefaultIdle
from .flow_claims import ClaimRound
from .history_store import HistoryStoreMixin
from .listener import ChangeListener
from .named_idle import NamedIdle
from .task_store import TaskStoreMixin

R = TypeVar("R")
PRUNE_MS = 3_600_000
"""How often the per-command tallies older than `FIGURES_KEPT_MS` are pruned (by the
archive pass of an engine)."""


class PostgresStore(AdminStoreMixin, TaskStoreMixin, HistoryStoreMixin):
    """The live queue, summaries and month partitions in one schema of a PostgreSQL database.

    `dsn` is a `postgresql://` URL; the schema comes from `schema`, else the URL's `?schema=`,
    else `jobs`. Nothing connects until the first call; the pool belongs to the event loop
    of that call (a later loop gets a fresh pool), and LISTEN has a connection of its own.
    """

    concurrent_writes = True
    outcomes_behind = True

    def __init__(
        self,
        dsn: str,
        schema: str | None = None,
        settings: Settings | None = None,
        *,
        create: bool = True,
        read_only: bool = False,
    ) -> None:
        self.settings = settings or Settings()
        self.url = parse_store_url(dsn, schema)
        self.schema = self.url.schema
        self.location = self.url.display
        """Where the store is, for messages: the URL with its password masked."""
        self._dsn = dsn
        self._create = create and not read_only
        self.read_only = read_only
        """Nothing is created, migrated or written: every connection's transactions are
        read-only, so the server refuses every change (ReadOnlyStoreError)."""
        self.channel = f"jobs.{self.schema}"
        """The NOTIFY channel of this store's changes."""
        own_pids: set[int] = set()
        self._db = Database(
            self.url, create=self._create, durability=self.settings.durability,
            own_pids=own_pids, read_only=read_only,
        )  # fmt: skip
        self._listener = ChangeListener(self.url, self.channel, own_pids)
        self._max_log = self.settings.max_log_chars
        self._lock_class = zlib.crc32(self.schema.encode()) - 2**31
        self._claims = ClaimLedger()
        self._flow_mode = False
        """Whether the last claim found flow control in use (the next one then takes the
        claim lock at once)."""
        self._queues_seen = 1
        """Queues with ready jobs at the last claim: each gets its share of the next one."""
        self._named = NamedIdle(self._listener, self._db)
        self._default = DefaultIdle(self._listener, self._db, self._named)
        self._months: set[str] = set()
        """Months whose partitions this store has made sure exist."""
        self._last_prune = 0

    def reopen(self) -> PostgresStore:
        """A second store on the same schema with connections of its own (`jobs.sync` runs
        one on its own event loop), creating the schema only if this one may."""
        return PostgresStore(
            self._dsn, self.schema, self.settings, create=self._create, read_only=self.read_only
        )

    # -- plumbing ---------------------------------------------------------------------------

    async def _write(self, fn: Work[R]) -> R:
        return await self._db.write(fn)

    async def _read(self, fn: Work[R]) -> R:
        return await self._db.read(fn)

    async def _finishing(
        self, now: int, fn: Work[R], *, engine: bool = False, atomic: bool = True,
        counted: bool = True,
    ) -> R:  # fmt: skip
        """Run `fn`, a transaction that moves jobs it finishes into the partitions of the
        month of `now`: created first if this store has not seen that month yet, and again
        if one went missing (an operator detached or dropped it). `counted`: see
        `Database.activity`."""
        month = archive.month_of(now)
        for attempt in range(2):
            if month not in self._months:
                await self._db.one(
                    lambda c: archive.ensure_partitions(c, [month]), engine=engine, counted=counted
                )
                self._months.add(month)
            try:
                return await self._db.write(fn, engine=engine, atomic=atomic, counted=counted)
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

    async def enqueue(self, jobs: list[NewJob], now: int) -> EnqueuedIds:
        if not jobs:
            return EnqueuedIds()
        if not queue.needs_checks(jobs):
            return await self._db.one(lambda c: queue.insert_jobs(c, jobs, now, self.channel))
        for _ in range(conflicts.RACE_RETRIES):
            try:
                return await self._write(lambda c: queue.insert_jobs(c, jobs, now, self.channel))
            except conflicts.RacedError:
                continue  # the next run finds the job that won
        raise StoreUnavailableError(
            f"{self.location}: gave up after {conflicts.RACE_RETRIES} enqueues that lost a race "
            "for a ref_id or unique key"
        )

    async def enqueue_columns(self, jobs: JobColumns, now: int) -> EnqueuedIds:
        if queue.plain_columns(jobs):
            return await self._db.one(lambda c: queue.insert_columns(c, jobs, now, self.channel))
        return await self.enqueue(jobs.new_jobs(), now)

    async def claim(
        self, *, owner: str, commands: list[str], named: bool, limit: int, now: int,
        finished: Sequence[int] = (),
    ) -> list[Job]:  # fmt: skip
        if self._claims.lost:
            await self._db.write(self._claims.release_lost, engine=True)
        if named and self._named.nothing_ready():
            return []  # nothing changed since a claim saw no named worker's job ready
        if not named:
            ids = self._default.by_id(commands, now, limit)
            if ids is not None:  # nothing changed or fell due since a claim came back short
                return await self._claim_ids(owner, commands, ids, now) if ids else []
            self._default.forget()
        ended = list(finished)
        for _ in range(RETRIES):
            try:
                jobs = await self._claim_once(owner, commands, named, limit, now, ended)
            except StoreUnavailableError:
                # The claim may have committed with its answer lost: release its jobs later.
                self._claims.note_lost(owner, now, named)
                raise
            if jobs is not None:
                self._claims.note_claimed(owner, now, named, [j.id for j in jobs])
                return jobs
        return []

    async def _claim_ids(
        self, owner: str, commands: list[str], ids: list[int], now: int
    ) -> list[Job]:
        """A default claim of the announced `ids` alone (`default_idle.py`): jobs announced
        since a claim came back short, all that can be ready."""
        seen_named, seen_default = self._named.seen(), self._default.seen()
        try:
            jobs, left = await self._db.one(
                lambda c: flow_claims.claim_ids(
                    c, owner=owner, commands=commands, ids=ids, now=now
                ),
                engine=True,
            )  # fmt: skip
        except StoreUnavailableError:
            self._default.forget()
            self._claims.note_lost(owner, now, False)
            raise
        self._named.kept(seen_named)
        self._default.claimed(seen_default, left)
        self._claims.note_claimed(owner, now, False, [j.id for j in jobs])
        return jobs

    async def _claim_once(
        self, owner: str, commands: list[str], named: bool, limit: int, now: int,
        finished: list[int],
    ) -> list[Job] | None:  # fmt: skip
        """One claim: lone statements while no flow control is in use, else under the
        store's claim lock (see `flow_claims`): `claim_locked` for the default worker, a
        transaction for named workers. None when a rival's named claim committed after our
        snapshot (look again)."""

        due = not named and self._default.wants_due()

        def statement(conn: Conn, locked: bool, batch: int, cap: int) -> Awaitable[ClaimRound]:
            return flow_claims.claim(
                conn, owner=owner, commands=commands, named=named, limit=batch, per_queue=cap,
                now=now, locked=locked, lock_class=self._lock_class, finished=finished, due=due,
            )  # fmt: skip

        async def alone(batch: int, cap: int) -> ClaimRound:
            seen, seen_default = self._named.seen(), self._default.seen()
            found = await self._db.one(lambda c: statement(c, False, batch, cap), engine=True)
            self._named.note(seen, found)
            if not named:
                self._default.note(seen_default, commands, now, found, cap)
            return found

        jobs: list[Job] = []

        async def under_lock(conn: Conn) -> tuple[list[Job], ClaimRound]:
            await flow_claims.lock_claims(conn, self._lock_class)
            return await flow_claims.claim_rounds(
                lambda batch, cap: statement(conn, True, batch, cap), limit - len(jobs),
                self._queues_seen,
            )  # fmt: skip

        try:
            if not self._flow_mode:
                jobs, last = await flow_claims.claim_rounds(alone, limit, self._queues_seen)
                self._queues_seen = last.queues
                if not last.needed or len(jobs) >= limit:
                    return jobs
            if named:
                more, last = await self._db.write(under_lock, engine=True)
            else:
                last = await self._claim_locked(owner, commands, limit - len(jobs), now, finished)
                more = last.jobs
        except flow_claims.ClaimRaced:
            return jobs or None
        self._flow_mode, self._queues_seen = last.needed, last.queues
        return jobs + more

    async def _claim_locked(
        self, owner: str, commands: list[str], limit: int, now: int, finished: list[int]
    ) -> ClaimRound:
        """A default claim under the store's claim lock in one round trip: `claim_locked`,
        its own transaction, runs the claim's rounds itself."""
        cap = 0  # the statement shares the batch among the queues it finds (claim_sql.SHARE)
        return await self._db.one(
            lambda c: flow_claims.claim(
                c, owner=owner, commands=commands, named=False, limit=limit, per_queue=cap,
                now=now, locked=True, lock_class=self._lock_class, lock=True,
                finished=finished,
            ),
            engine=True,
        )  # fmt: skip

    async def finish(
        self, transitions: list[Transition], new_jobs: list[NewJob], now: int
    ) -> FinishResult:
        # Not counted in `Database.activity` (the engine writes outcomes beside its claims):
        # told to `NamedIdle` instead.
        try:
            result = await self._finish(transitions, new_jobs, now)
        except BaseException:
            self._named.wrote(transitions, None)
            raise
        self._named.wrote(transitions, result)
        return result

    async def _finish(
        self, transitions: list[Transition], new_jobs: list[NewJob], now: int
    ) -> FinishResult:
        if not new_jobs:  # without follow-ups, one statement unless a batch is involved
            done = await self._finishing(
                now,
                lambda c: finish.finish_alone(c, transitions, now, self._max_log, self.channel),
                engine=True, atomic=False, counted=False,
            )  # fmt: skip
            if done is not None:
                return done
        return await self._finishing(
            now,
            lambda c: finish.finish(c, transitions, new_jobs, now, self._max_log, self.channel),
            engine=True, counted=False,
        )  # fmt: skip

    async def finish_and_claim(
        self, transitions: list[Transition], new_jobs: list[NewJob], now: int, *,
        owner: str, commands: list[str], limit: int,
    ) -> tuple[FinishResult, list[Job]]:  # fmt: skip
        # Two calls (see `Store.finish_and_claim`): each is its own round trip or two here.
        result = await self.finish(transitions, new_jobs, now)
        jobs = await self.claim(owner=owner, commands=commands, named=False, limit=limit, now=now)
        return result, jobs

    async def record_activity(self, updates: list[ActivityUpdate], now: int) -> None:
        await self._db.one(
            lambda c: queue.record_activity(c, updates, now, self._max_log, self.channel),
            engine=True,
        )

    async def archive_finished(self, now: int, limit: int, *, in_order: bool = False) -> int:
        if now - self._last_prune >= PRUNE_MS:
            self._last_prune = now
            await self._db.one(lambda c: tallies.prune(c, now - FIGURES_KEPT_MS), engine=True)
        moved = await self._db.one(lambda c: archive.move_finished(c, limit), engine=True)
        # Attempt rows follow their jobs into the month's partition (rows exist only for
        # retried or requeued jobs, so this is a small table's scan).
        await self._db.one(lambda c: attempts.move_archived(c, limit), engine=True)
        return moved

    async def next_due(self, now: int) -> int | None:
        known, due = self._default.next_due(now)
        if known:
            return due  # the last short claim said, and nothing changed since
        return await self._db.one(lambda c: flow_claims.next_due(c, now), engine=True)

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

    # -- flow control -----------------------------------------------------------------------

    async def set_queue(self, name: str, change: QueueChange, now: int) -> QueueSettings:
        return await self._db.one(
            lambda c: flow_admin.set_queue(c, name, change, now, self.channel)
        )

    async def queue_settings(self) -> list[QueueSettings]:
        return await self._read(flow_admin.settings)

    async def queues(self, now: int) -> list[QueueInfo]:
        return await self._read(lambda c: flow_admin.queues(c, now))

    async def wait_facts(self, job_ids: list[int], now: int) -> list[WaitFacts]:
        return await self._read(lambda c: flow_admin.wait_facts(c, job_ids, now))

    async def expire_due(self, now: int, limit: int) -> list[int]:
        return await self._finishing(
            now,
            lambda c: flow_admin.expire(c, now, limit, self._max_log, self.channel, limit),
            engine=True,
        )
