"""`SqliteStore`: the embedded backend, a directory of SQLite files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from jobs_core.errors import ReadOnlyStoreError, StoreBusyError, StoreError
from jobs_core.figures import FIGURES_KEPT_MS
from jobs_core.flow import WaitFacts
from jobs_core.flow_records import QueueInfo, QueueSettings
from jobs_core.records import (
    CommandDefinition,
    EngineInfo,
    ExposedFile,
    Job,
    RunningJob,
)
from jobs_core.settings import Durability, Settings
from jobs_core.store import numbering
from jobs_core.store.group_commit import GroupCommitter, Outcome, Pending
from jobs_core.store.protocol import (
    ActivityUpdate,
    ClaimedJobs,
    EngineRegistration,
    EnqueuedIds,
    FinishResult,
    JobColumns,
    NewJob,
    QueueChange,
    Transition,
)

from . import claims, commands, engines, flow_admin, logs, queue, summaries, tallies
from .admin_store import AdminStoreMixin
from .archive import MonthArchive, has_attempts
from .bulk_store import BulkStoreMixin
from .checkpointer import Checkpointer
from .claims import PlainClaim
from .connection import (
    LIVE_PAGE_SIZE,
    LOOP_BUSY_TIMEOUT_MS,
    fine_sleeps,
    is_busy,
    open_connection,
    stayed_locked,
    transaction,
    translate,
)
from .files import LIVE_FILE, check_location, exposed_files
from .group_insert import insert_group, split_ids
from .history_store import HistoryStoreMixin
from .inbox import (
    INBOX_FILE,
    MOST_JOBS,
    MOVE_AFTER_SECS,
    MOVE_STALE_SECS,
    TAKE_LOCK,
    Inbox,
    row_priority,
    row_values,
    started_jobs,
)
from .off_loop import OffLoop
from .prebuilt import insert_prebuilt, prebuild, prebuild_columns
from .retention_store import RetentionStoreMixin
from .schema import check_version, migrate
from .task_store import TaskStoreMixin
from .wake import WakeSignal, WakeWatch

R = TypeVar("R")
BUSY_RETRY_MAX_SECS = 0.005
"""Longest pause between retries of a write that found the database locked; locks are held
for well under a millisecond, so a long pause only leaves the engine idle."""
SPIN_SECS = 0.002
"""How long a write that finds the database locked polls for it on the loop's thread before
it waits asynchronously (asyncio sleeps no less than 1 ms). Another process's enqueue, claim
or finish holds the lock for tens of µs to a few ms; a 1 ms sleep on each collision halved
the rate of a producer beside an engine (measured: 230 of 10,000 enqueues collided and
waited 47% of the producer's time)."""
SPIN_SLEEP_SECS = 0.00005


class _Locked:
    """What `_spin` returns when the lock stayed held."""


LOCKED = _Locked()
PRUNE_MS = 3_600_000
"""How often an engine's archive pass forgets per-minute tallies older than they are kept."""


class SqliteStore(
    AdminStoreMixin, BulkStoreMixin, TaskStoreMixin, HistoryStoreMixin, RetentionStoreMixin
):
    """The live store `jobs.db` plus its month databases, in one directory.

    Hot-path writes run on the event loop's thread (a thread hop per statement would cost
    more than the statement); a lock held by another process is waited for asynchronously.
    The archive's copy into the month files runs in a thread of its own (`off_loop.py`): it
    never locks `jobs.db` for writing, so it runs beside the loop's claims and finishes.
    Admin reads run in a worker thread on their own connection so they never block the loop.
    """

    concurrent_writes = False

    def __init__(
        self, directory: str, settings: Settings | None = None, *, create: bool = True,
        read_only: bool = False,
    ) -> None:  # fmt: skip
        self.settings = settings or Settings()
        self.directory = os.path.abspath(directory)
        self.path = os.path.join(self.directory, LIVE_FILE)
        self.location = self.directory
        self.read_only = read_only
        """Every connection opened `mode=ro`: nothing is created, migrated or written."""
        check_location(self.directory, self.path, create and not read_only)
        durability = self.settings.durability
        busy_timeout_ms = int(self.settings.busy_timeout_secs * 1000)
        self._conn = open_connection(
            self.path, durability=durability, busy_timeout_ms=busy_timeout_ms,
            readonly=read_only, page_size=LIVE_PAGE_SIZE,
        )  # fmt: skip
        logs.install_functions(self._conn)
        try:
            if read_only:
                check_version(self._conn, self.path)
            else:
                # Checkpoints run in the background (checkpointer.py); this is a safety net.
                self._conn.execute("PRAGMA wal_autocheckpoint = 50000")
                migrate(self._conn, self.path)
            self._conn.execute(f"PRAGMA busy_timeout = {LOOP_BUSY_TIMEOUT_MS}")
        except sqlite3.DatabaseError as error:
            self._conn.close()
            raise translate(error, self.path) from None
        except StoreError:
            self._conn.close()
            raise
        self._inbox: Inbox | None = None
        """Where this store appends plain jobs (`inbox.py`); None read-only."""
        if not read_only:
            self._inbox = self._open_inbox(durability, busy_timeout_ms)
        self._move_timer: asyncio.TimerHandle | None = None
        self._seen_mark = 0
        """The inbox's mark when the move timer was set (`_deferred_move`)."""
        self._reader = open_connection(
            self.path, durability=durability, busy_timeout_ms=busy_timeout_ms, readonly=read_only
        )
        self._read_lock = threading.Lock()
        self._archive = MonthArchive(self.directory, self.path, durability, read_only=read_only)
        self._checkpointer = None if read_only else Checkpointer(self.path, durability)
        self._max_log = self.settings.max_log_chars
        self._last_prune = 0
        self._full = durability is Durability.FULL
        self.outcomes_behind = self._full
        """At FULL an outcome's commit waits for an fsync and a claim's does not
        (`_in_transaction_unsynced`): the engine writes outcomes apart, lingering to group
        them (`Store.outcomes_behind`)."""
        self._wake_signal = WakeSignal(self.directory)
        self._wake_watch: WakeWatch | None = None
        self._committer = GroupCommitter(self._insert_group, self._insert_group_now)
        self._off_loop = OffLoop(self.path, self.settings.busy_timeout_secs)
        self._archive_lock = asyncio.Lock()
        """Held while the archive's connection is in use (`_in_archive`), on the loop or in
        `_off_loop`: one thread at a time."""

    # -- plumbing ---------------------------------------------------------------------------

    def _open_inbox(self, durability: Durability, busy_timeout_ms: int) -> Inbox:
        try:
            inbox = Inbox(self.directory, durability, busy_timeout_ms)
        except (sqlite3.DatabaseError, StoreError) as error:
            self._conn.close()
            if isinstance(error, StoreError):
                raise
            raise translate(error, os.path.join(self.directory, INBOX_FILE)) from None
        # Attached so that a move is one statement; write transactions then take
        # `jobs.db`'s lock alone (`inbox.TAKE_LOCK`).
        self._conn.execute("ATTACH ? AS inbox", (inbox.path,))
        return inbox

    async def _write(
        self, fn: Callable[[sqlite3.Connection], R], *, sync: bool = True, move_first: bool = True
    ) -> R:
        """Run `fn` in one write transaction on the loop's connection, retrying while busy;
        the inbox's new jobs moved in first (`move_first=False`: `fn` moves them).

        `sync=False`: a write whose loss on power loss only makes work run again (a claim, a
        heartbeat) commits without waiting for an fsync at `Durability.FULL` (see
        `_in_transaction_unsynced`)."""
        if self.read_only:
            raise ReadOnlyStoreError(f"{self.path} is open read-only: nothing can be changed")
        run = self._in_transaction if sync or not self._full else self._in_transaction_unsynced
        return await self._retry_busy(partial(run, fn, move_first=move_first))

    def _in_transaction(
        self, fn: Callable[[sqlite3.Connection], R], *, move_first: bool = True
    ) -> R:
        # `transaction()` spelled out: this runs once per enqueue, claim and finish.
        conn = self._conn
        inbox = self._inbox
        conn.execute("BEGIN IMMEDIATE" if inbox is None else "BEGIN")
        try:
            if inbox is not None:
                conn.execute(TAKE_LOCK)
                inbox.ids.release(conn)
                if move_first and inbox.pending(conn):
                    inbox.move(conn)
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if inbox is not None:
                inbox.rolled_back()
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if inbox is not None and inbox.committed():
            inbox.trim(self.path)
        if self._checkpointer is not None and self._checkpointer.rewind_tries > 0:
            self._checkpointer.rewind(conn)  # after the commit, which stands whatever it does
        return result

    def _in_transaction_unsynced(
        self, fn: Callable[[sqlite3.Connection], R], *, move_first: bool = True
    ) -> R:
        # In WAL mode `synchronous` is per connection and the WAL is append-only: this
        # commit's frames reach the disk with the next commit that fsyncs (any process's),
        # and a power loss before that loses them together with everything after them, none
        # of which was promised durable. A lost claim puts its jobs back in the queue.
        conn = self._conn
        conn.execute("PRAGMA synchronous = NORMAL")
        try:
            return self._in_transaction(fn, move_first=move_first)
        finally:
            conn.execute("PRAGMA synchronous = FULL")

    async def _read(self, fn: Callable[[sqlite3.Connection], R], *, jobs: bool = True) -> R:
        """Run `fn` on the read connection in a worker thread, once the inbox's jobs are
        in `jobs.db` (it sees every job enqueued before it; `jobs=False`: a read of no job,
        which leaves them where an engine starts them from)."""
        if jobs:
            await self._move_inbox()

        def run() -> R:
            with self._read_lock:
                try:
                    with transaction(self._reader, write=False) as conn:
                        return fn(conn)
                except sqlite3.DatabaseError as error:
                    raise translate(error, self.path) from None

        return await asyncio.to_thread(run)

    # -- the inbox (`inbox.py`) -------------------------------------------------------------

    async def _move_inbox(self) -> None:
        """Move the inbox's jobs into `jobs.db` if any wait (a write transaction)."""
        inbox = self._inbox
        if inbox is not None and inbox.pending(self._conn):
            await self._retry_busy(partial(self._in_transaction, _nothing))

    def _schedule_move(self) -> None:
        """After an append: move it in `MOVE_AFTER_SECS` from now unless a writer (an engine,
        a reader) did, so that stores that cannot move (read-only) see it too. An engine
        that starts jobs from the inbox (its mark moved meanwhile) is left to take the
        rest, for up to `MOVE_STALE_SECS` a job."""
        if self._move_timer is None and self._inbox is not None:
            self._seen_mark = self._mark_now(self._inbox)
            loop = asyncio.get_running_loop()
            self._move_timer = loop.call_later(MOVE_AFTER_SECS, self._deferred_move)

    def _mark_now(self, inbox: Inbox) -> int:
        """The inbox's mark, or -1 if it cannot be read: this runs after an append, whose job
        is stored whatever happens here, so nothing may raise to the caller."""
        try:
            return inbox.progress(self._conn)[0]
        except sqlite3.Error:
            return -1

    def _deferred_move(self) -> None:
        self._move_timer = None
        inbox = self._inbox
        if inbox is None or not inbox.pending(self._conn):
            return
        try:
            mark, oldest = inbox.progress(self._conn)
        except sqlite3.Error:
            mark, oldest = self._seen_mark, None  # unknown: move, as without an engine
        taking = mark != self._seen_mark
        if taking and oldest is not None and oldest > (time.time() - MOVE_STALE_SECS) * 1000:
            self._schedule_move()
            return
        try:
            moved = self._spin(partial(self._in_transaction, _nothing))
        except StoreError:
            moved = LOCKED  # the disk full, say: the next append or read tries again
        if isinstance(moved, _Locked):
            self._schedule_move()

    def _inbox_rows(self, group: Sequence[Pending]) -> list[list[Any]] | None:
        """The inbox rows of `group` (`inbox.row_values`) if it goes to the inbox: a few
        jobs whose insert looks nothing up (`queue.inbox_route`); None otherwise."""
        if self._inbox is None:
            return None
        if sum(_caller_jobs(group)) > MOST_JOBS:
            return None
        rows: list[list[Any]] = []
        for entry in group:
            columns = entry.columns
            if columns is not None:
                job = columns.job
                route = None if columns.routing is not None else queue.inbox_route(job)
                if route is None:
                    return None
                rows += [
                    row_values(job.command, t, b, job.run_after, entry.now, job.retry_limit,
                               job.timeout_secs, route)
                    for t, b in zip(columns.request_types, columns.request_bodies, strict=True)
                ]  # fmt: skip
                continue
            for job in entry.jobs:
                route = queue.inbox_route(job)
                if route is None:
                    return None
                rows.append(
                    row_values(job.command, job.request_type, job.request_body, job.run_after,
                               entry.now, job.retry_limit, job.timeout_secs, route)
                )  # fmt: skip
        return rows

    def _append_now(self, inbox: Inbox, rows: list[list[Any]]) -> list[int] | _Locked:
        """Append `rows` unless a lock stays held SPIN_SECS (ids reserved first if needed);
        their ids."""
        ids = inbox.ids.take(len(rows))
        if ids is None:
            reserved = self._spin(
                partial(
                    self._in_transaction, partial(inbox.ids.reserve, n=len(rows)), move_first=False
                )
            )
            if isinstance(reserved, _Locked):
                return LOCKED
            ids = inbox.ids.take(len(rows))
            assert ids is not None
        done = self._spin(partial(inbox.append, rows, ids))
        if isinstance(done, _Locked):
            inbox.ids.give_back(ids)
            return LOCKED
        return ids

    async def _append(self, inbox: Inbox, rows: list[list[Any]]) -> list[int]:
        ids = inbox.ids.take(len(rows))
        if ids is None:
            await self._retry_busy(
                partial(
                    self._in_transaction, partial(inbox.ids.reserve, n=len(rows)), move_first=False
                )
            )
            ids = inbox.ids.take(len(rows))
            assert ids is not None
        try:
            append = partial(inbox.append, rows, ids)
            await self._retry_busy(append, wait_first=True, path=inbox.path)
        except BaseException:
            inbox.ids.give_back(ids)
            raise
        return ids

    def _appended(
        self, group: Sequence[Pending], ids: list[int], order: list[int] | None
    ) -> list[Outcome]:
        self._wake_signal.send()
        self._schedule_move()
        return split_ids(
            ids if order is None else numbering.restore(order, ids), _caller_jobs(group)
        )

    async def open(self) -> None:
        """Nothing to do: the files were opened and checked by the constructor."""

    def change_token(self) -> int:
        token = self._read_now(_data_version)
        if self._inbox is not None:  # an append changes the inbox alone
            token = token * 1_000_003 + self._inbox.version()
        return token

    def on_change(self, callback: Callable[[], None] | None) -> None:
        """Nothing tells SQLite of another process's commit, so engines poll `data_version`;
        enqueues signal through `jobs.wake` (`wake.py`), calling `callback` at once."""
        if self._wake_watch is not None:
            self._wake_watch.close()
            self._wake_watch = None
        if callback is not None and not self.read_only:
            self._wake_watch = WakeWatch.start(self.directory, callback)

    def reopen(self) -> SqliteStore:
        return SqliteStore(self.directory, self.settings, create=False, read_only=self.read_only)

    async def close(self) -> None:
        if self._move_timer is not None:
            self._move_timer.cancel()
            self._move_timer = None
        inbox = self._inbox
        if inbox is not None:
            # What this store appended goes in now: a read-only store sees it after.
            with contextlib.suppress(StoreError):
                await self._move_inbox()
            inbox.trim(self.path)  # the inbox left empty when nothing else appends
            self._inbox = None  # closed below; a second `close` has nothing to move
        self.on_change(None)
        self._wake_signal.close()
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._off_loop.close()
        self._conn.close()
        if inbox is not None:
            inbox.close()
        with self._read_lock:
            self._reader.close()
        self._archive.close()

    # -- engine hot path --------------------------------------------------------------------

    async def enqueue(self, jobs: list[NewJob], now: int) -> EnqueuedIds:
        if self.read_only:
            raise ReadOnlyStoreError(f"{self.path} is open read-only: nothing can be changed")
        return await self._committer.submit(jobs, now)

    async def enqueue_columns(self, jobs: JobColumns, now: int) -> EnqueuedIds:
        if self.read_only:
            raise ReadOnlyStoreError(f"{self.path} is open read-only: nothing can be changed")
        return await self._committer.submit([], now, columns=jobs)

    def _insert_group_now(self, group: Sequence[Pending]) -> list[Outcome] | None:
        """The group's transaction if the lock is free or freed within SPIN_SECS, else None."""
        rows = self._inbox_rows(group)
        if rows is not None and self._inbox is not None:
            order = _by_priority(rows)
            ids = self._append_now(self._inbox, rows)
            return None if isinstance(ids, _Locked) else self._appended(group, ids, order)
        result = self._spin(partial(self._in_transaction, _group_insert(group)))
        if isinstance(result, _Locked):
            return None
        self._wake_signal.send()
        return result

    async def _insert_group(self, group: Sequence[Pending]) -> list[Outcome]:
        # Called after `_insert_group_now` found the lock held: wait before trying again.
        rows = self._inbox_rows(group)
        if rows is not None and self._inbox is not None:
            order = _by_priority(rows)
            return self._appended(group, await self._append(self._inbox, rows), order)
        result = await self._retry_busy(
            partial(self._in_transaction, _group_insert(group)), wait_first=True
        )
        self._wake_signal.send()
        return result

    async def claim(
        self, *, owner: str, commands: list[str], named: bool, limit: int, now: int,
        finished: Sequence[int] = (),
    ) -> list[Job]:  # fmt: skip
        # `finished` is not needed. An engine at NORMAL writes its outcomes before it claims;
        # at FULL (`outcomes_behind`) its ended jobs count as started until their write,
        # which holds a limited queue's or a key's next job back only until then (the
        # engine claims again after the write: `claiming.py`).
        # The inbox holds default-worker jobs alone: a named claim does not look there.
        inbox = not named and self._inbox_pending()
        if (
            not self.read_only
            and not inbox
            and not self._read_now(partial(claims.may_claim, named=named))
        ):
            return ClaimedJobs(exhausted=True)

        def run(conn: sqlite3.Connection) -> tuple[ClaimedJobs | PlainClaim, list[Any]]:
            if not named:
                self._before_claim(conn, commands)
            claimed = claims.claim(
                conn, owner=owner, commands=commands, named=named, limit=limit, now=now
            )
            if named:
                return claimed, []
            return claimed, self._start_moved(conn, claimed, owner, commands, limit, now)

        claimed, started = await self._write(run, sync=False, move_first=False)
        # The jobs made after the commit: see `claims.PlainClaim`.
        return _with_started(claims.made(claimed), started_jobs(started, owner, now), limit)

    def _inbox_pending(self) -> bool:
        return self._inbox is not None and self._inbox.pending(self._conn)

    def _move_inbox_now(self, conn: sqlite3.Connection) -> None:
        """Move the inbox in, inside the write transaction on `conn` (before an insert that
        `move_first=False` left it for)."""
        inbox = self._inbox
        if inbox is not None and inbox.pending(conn):
            inbox.move(conn)

    def _before_claim(self, conn: sqlite3.Connection, commands: list[str]) -> None:
        """Before a default claim, in its transaction: move the inbox in if its jobs must be
        weighed with the ready ones of `jobs.db` (a routed job waits in it, or `jobs.db`
        holds a ready job of another queue or a lower priority: `inbox.BEHIND`). Otherwise
        every ready job in `jobs.db` ranks ahead of the inbox's (they are older), and the
        claim takes those first (`_start_moved`)."""
        inbox = self._inbox
        if inbox is None or not inbox.pending(conn):
            return
        if inbox.routed_pending(conn) or (
            claims.may_claim(conn, named=False) and inbox.behind(conn, json.dumps(commands))
        ):
            inbox.move(conn)

    def _start_moved(
        self, conn: sqlite3.Connection, claimed: ClaimedJobs | PlainClaim, owner: str,
        commands: list[str], limit: int, now: int,
    ) -> list[Any]:  # fmt: skip
        """After a default claim, in its transaction: as many of the inbox's jobs started as
        the claim left room for, the rows before the last of them moved in (`inbox.
        start_moved`); the started rows (`inbox.started_jobs`). A full claim leaves the
        inbox as it is: `jobs.db`'s ready jobs rank ahead of its jobs (they are older: a
        write moves the inbox in before it inserts a job; `_before_claim` moved it if one
        ranks behind), and an engine behind its producer then starts each job from the
        inbox, never through the ready index. A flow-controlled claim moves every row."""
        inbox = self._inbox
        if inbox is None or not inbox.pending(conn):
            return []
        taken = len(claimed.rows) if isinstance(claimed, PlainClaim) else len(claimed)
        exhausted = isinstance(claimed, PlainClaim) or claimed.exhausted
        if not exhausted:
            inbox.move(conn)
            return []
        if taken >= limit:
            return []
        return inbox.start_moved(conn, owner, json.dumps(commands), limit - taken, now)

    async def finish(
        self, transitions: list[Transition], new_jobs: list[NewJob], now: int
    ) -> FinishResult:
        return await self._write(
            lambda conn: queue.finish(
                conn, transitions, new_jobs, now, self._max_log, partial(self._move_inbox_now, conn)
            ),
            move_first=False,
        )

    async def finish_and_claim(
        self, transitions: list[Transition], new_jobs: list[NewJob], now: int, *,
        owner: str, commands: list[str], limit: int,
    ) -> tuple[FinishResult, list[Job]]:  # fmt: skip
        def both(
            conn: sqlite3.Connection,
        ) -> tuple[FinishResult, ClaimedJobs | PlainClaim, list[Any]]:
            result = queue.finish(
                conn, transitions, new_jobs, now, self._max_log, partial(self._move_inbox_now, conn)
            )
            self._before_claim(conn, commands)
            # The probe first, as `claim` (the claim's first statement costs more).
            claimed: ClaimedJobs | PlainClaim = ClaimedJobs(exhausted=True)
            if claims.may_claim(conn, named=False):
                claimed = claims.claim(
                    conn, owner=owner, commands=commands, named=False, limit=limit, now=now
                )
            return result, claimed, self._start_moved(conn, claimed, owner, commands, limit, now)

        result, claimed, started = await self._write(both, move_first=False)
        # The jobs made after the commit: see `claims.PlainClaim`.
        jobs = _with_started(claims.made(claimed), started_jobs(started, owner, now), limit)
        return result, jobs

    async def record_activity(self, updates: list[ActivityUpdate], now: int) -> None:
        await self._write(
            lambda conn: queue.record_activity(conn, updates, now, self._max_log), move_first=False
        )

    async def archive_finished(self, now: int, limit: int, *, in_order: bool = False) -> int:
        if now - self._last_prune >= PRUNE_MS:
            self._last_prune = now
            prune = partial(tallies.prune, before=now - FIGURES_KEPT_MS)
            await self._write(prune, move_first=False)
        if self.read_only:
            raise ReadOnlyStoreError(f"{self.path} is open read-only: nothing can be changed")
        # The copy reads the live store and writes the month files, never locking `jobs.db`
        # for writing: in the thread, it runs beside the loop's claims and finishes.
        async with self._archive_lock:
            copy = partial(self._archive.copy_finished, limit, now, in_order=in_order)
            copied = await self._off_loop.call(copy)
        if copied.ids:
            # No job inserted: the inbox's jobs may stay where an engine starts them from.
            await self._write(lambda conn: _delete_archived(conn, copied.ids), move_first=False)
        return copied.count

    async def _in_archive(self, fn: Callable[[], R]) -> R:
        """`fn` (on the archive's connection) on the loop, retrying while busy, once no
        archive copy runs in the thread."""
        async with self._archive_lock:
            return await self._retry_busy(fn)

    async def _retry_busy(
        self, fn: Callable[[], R], *, wait_first: bool = False, path: str | None = None
    ) -> R:
        """Call `fn`, polling briefly while another process holds the lock, then retrying
        asynchronously (`wait_first`: the caller just polled, so pause before the first call).
        `path`: the file whose lock `fn` takes, for the error (`jobs.db` by default).
        """
        if self.read_only:
            raise ReadOnlyStoreError(f"{self.path} is open read-only: nothing can be changed")
        deadline = time.monotonic() + self.settings.busy_timeout_secs
        if not wait_first:
            result = self._spin(fn)
            if not isinstance(result, _Locked):
                return result
        delay = 0.0005
        while True:
            # One try per pause: polling again here would block the loop for as long as
            # another process keeps the lock.
            await asyncio.sleep(delay)
            delay = min(delay * 2, BUSY_RETRY_MAX_SECS)
            try:
                return fn()
            except sqlite3.DatabaseError as error:
                if not is_busy(error):
                    raise translate(error, self.path) from None
                if time.monotonic() > deadline:
                    where = path or self.path
                    raise stayed_locked(where, self.settings.busy_timeout_secs) from None

    def _spin(self, fn: Callable[[], R]) -> R | _Locked:
        """Call `fn`, polling for up to SPIN_SECS while the database is locked; LOCKED if it
        stayed locked."""
        try:
            return fn()
        except sqlite3.DatabaseError as error:
            if not is_busy(error):
                raise translate(error, self.path) from None
        until = time.monotonic() + SPIN_SECS
        with fine_sleeps():  # the lock is taken soon after its release, not ~100 µs after
            while True:
                time.sleep(SPIN_SLEEP_SECS)
                try:
                    return fn()
                except sqlite3.DatabaseError as error:
                    if not is_busy(error):
                        raise translate(error, self.path) from None
                if time.monotonic() > until:
                    return LOCKED

    def _read_now(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        """`fn` on the loop's connection outside a write (a reader is locked out only while
        another connection recovers the WAL index, briefly)."""
        result = self._spin(partial(fn, self._conn))
        if isinstance(result, _Locked):
            raise StoreBusyError(f"{self.path} stayed locked by another process")
        return result

    async def next_due(self, now: int) -> int | None:
        return self._read_now(lambda conn: claims.next_due(conn, now))

    # -- engines ----------------------------------------------------------------------------

    async def register_engine(self, engine: EngineRegistration, now: int, lease_ms: int) -> None:
        await self._write(lambda conn: engines.register(conn, engine, now, lease_ms))

    async def heartbeat(
        self, engine_id: str, now: int, lease_ms: int, running: int, processed: int, failed: int
    ) -> None:
        params = (now, now + lease_ms, running, processed, failed, engine_id)
        await self._write(
            lambda conn: engines.heartbeat(conn, params), sync=False, move_first=False
        )

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
        return self._read_now(lambda conn: engines.cancel_requested(conn, owner))

    async def engines(self, now: int) -> list[EngineInfo]:
        return await self._read(lambda conn: engines.engines(conn, now))

    async def running_jobs(self) -> list[RunningJob]:
        return await self._read(engines.running_jobs)

    # -- commands ---------------------------------------------------------------------------

    async def declare_commands(self, definitions: list[CommandDefinition]) -> None:
        await self._write(lambda conn: commands.declare(conn, definitions))

    async def declared_commands(self) -> list[CommandDefinition]:
        return await self._read(commands.declared)

    # -- flow control -----------------------------------------------------------------------

    async def set_queue(self, name: str, change: QueueChange, now: int) -> QueueSettings:
        def run(conn: sqlite3.Connection) -> QueueSettings:
            flow_admin.set_queue(conn, name, change, now)
            return next(s for s in flow_admin.settings(conn) if s.name == name)

        return await self._write(run)

    async def queue_settings(self) -> list[QueueSettings]:
        return await self._read(flow_admin.settings)

    async def queues(self, now: int) -> list[QueueInfo]:
        return await self._read(lambda conn: flow_admin.queues(conn, now))

    async def wait_facts(self, job_ids: list[int], now: int) -> list[WaitFacts]:
        return await self._read(lambda conn: flow_admin.wait_facts(conn, job_ids, now))

    async def expire_due(self, now: int, limit: int) -> list[int]:
        # Read first (no lock): most sweeps find nothing to do.
        conn = self._conn
        if not flow_admin.expired_ids(conn, now, 1) and not flow_admin.has_old_starts(conn, now):
            return []

        def run(conn: sqlite3.Connection) -> list[int]:
            flow_admin.prune_starts(conn, now)
            return flow_admin.expire(conn, now, limit, self._max_log)

        return await self._write(run)

    def exposed_files(self) -> list[ExposedFile]:
        return exposed_files(self.directory)


def _data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def _by_priority(rows: list[list[Any]]) -> list[int] | None:
    """Put inbox `rows` in the order they are numbered (`numbering`: higher priorities
    first, as in `jobs.db`); that order, or None when it is theirs already."""
    if len(rows) == 1:
        return None
    order = numbering.order([row_priority(row) for row in rows])
    if order is not None:
        rows[:] = [rows[i] for i in order]
    return order


def _caller_jobs(group: Sequence[Pending]) -> list[int]:
    """How many jobs each caller of `group` gave, in order (as records or as columns)."""
    return [len(e.columns) if e.columns is not None else len(e.jobs) for e in group]


def _nothing(conn: sqlite3.Connection) -> None:
    """A write transaction's work when all it does is move the inbox in."""


def _with_started(claimed: ClaimedJobs, started: list[Job], limit: int) -> ClaimedJobs:
    """A claim's jobs, then those it started as it moved them in from the inbox."""
    if not started:
        return claimed
    jobs = [*claimed, *started]
    return ClaimedJobs(jobs, exhausted=len(jobs) < limit)


def _delete_archived(conn: sqlite3.Connection, copied: list[str]) -> None:
    """Remove jobs (and their attempts) now copied to their month files, keeping their
    summaries (`copied`: JSON arrays of their ids, one a month)."""
    attempts = has_attempts(conn, "main")
    for ids in copied:
        summaries.archive(conn, ids)
        if not attempts:
            continue
        # Not the attempts of a job requeued meanwhile: it stayed, and they are its history.
        conn.execute(
            "DELETE FROM job_attempt WHERE job_id IN (SELECT value FROM json_each(?)) "
            "AND job_id NOT IN (SELECT b.id FROM background_job b "
            "WHERE b.id IN (SELECT value FROM json_each(?)))",
            (ids, ids),
        )


def _group_insert(group: Sequence[Pending]) -> Callable[[sqlite3.Connection], list[Outcome]]:
    """The transaction that inserts `group`, its rows built now, before it takes the write
    lock, when they can be (`prebuilt`): from its columns for a lone caller that gave
    columns, else from records (columns made `NewJob`s when callers share the group)."""
    if len(group) > 1:
        group = [entry.as_records() for entry in group]
    elif group[0].columns is not None:  # a lone caller's record (the common case) as it is
        built = prebuild_columns(group[0].columns, group[0].now)
        if built is not None:
            return partial(insert_prebuilt, built=built)
        group = [group[0].as_records()]
    built = prebuild(group)
    if built is None:
        return partial(insert_group, group=group)
    return partial(insert_prebuilt, built=built)
