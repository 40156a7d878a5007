"""The PostgreSQL store's connections: two small pools bound to one event loop, and the
one place that runs work in a transaction and turns driver errors into ours.

User-facing writes (enqueue, cancel, requeue) commit with the server's durability. The
engine's own bookkeeping (claims, outcomes, logs, heartbeats, archiving) has a pool of its
own: with `Durability.NORMAL` its commits do not wait for the WAL flush (a server crash may
forget its last fraction of a second, which only means those jobs run again, exactly as when
an engine dies); `Durability.FULL` makes every commit wait.

The engine's connections plan without sequential scans of the live table. Its statements
find rows by key (`id = ANY(...)`) or by partial index, and a prepared statement keeps the
plan made when it was first run, often when the table was nearly empty: a sequential scan
then, it stayed one once the backlog grew (measured: claim and finish of 100 jobs at a
time with 50,000 queued, 640 µs of the server's CPU a job instead of 42).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

import asyncpg
import asyncpg.pool

from jobs_core.errors import JobsError, StoreUnavailableError
from jobs_core.settings import Durability
from jobs_core.store.url import StoreUrl

from .connection import CONNECTION_LOST, RETRYABLE, Conn, connect, connect_kwargs, translate
from .migrate import check_version, migrate

R = TypeVar("R")
Work = Callable[[Conn], Awaitable[R]]
Lent: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"

POOL_SIZE = 4
"""Connections for callers (enqueue, admin reads) per process."""
ENGINE_POOL_SIZE = 3
"""Connections for the engine's own writes: its claims, the outcomes it writes meanwhile,
and its heartbeat."""
RETRIES = 5
"""Attempts of a transaction that lost a deadlock or a serialisation race."""


async def _keep_session(conn: Conn) -> None:
    """What a connection needs when it goes back to the pool: nothing beyond the rollback of
    an open transaction that asyncpg does anyway. The store sets no session state (its
    settings are given at connect, its advisory locks are per transaction), so asyncpg's
    default reset (RESET ALL, UNLISTEN *, unlock all: a round trip per call) is skipped."""


class Database:
    """Opens (and migrates) on first use from the running loop; a later loop gets fresh pools."""

    def __init__(
        self, url: StoreUrl, *, create: bool, durability: Durability, own_pids: set[int],
        read_only: bool = False,
    ) -> None:  # fmt: skip
        self.url = url
        self.location = url.display
        self._create = create
        self._read_only = read_only
        self._fast_engine = durability is Durability.NORMAL
        self._own_pids = own_pids
        self._pools: dict[bool, asyncpg.Pool] = {}
        self._kept: dict[bool, Lent] = {}
        """Per pool, a connection taken from it and kept for the next caller (`Lease`)."""
        self._busy: set[bool] = set()
        """Pools whose kept connection is lent out now."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Lock | None = None
        self._migrated = False
        self.activity = 0
        """Bumped when a connection is lent and when it comes back (`Lease`), but for calls
        made with `counted=False`: unchanged between two readings, no other call of this
        store began or ended in between."""
        self.lent = 0
        """Connections lent now (to counted calls)."""

    async def pool(self, engine: bool = False) -> asyncpg.Pool:
        pool = self._pools.get(engine)
        if pool is not None and self._loop is asyncio.get_running_loop():
            return pool
        return await self._open(engine)

    async def _open(self, engine: bool) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        if self._opening is None or self._loop is not loop:
            self._abandon()
            self._opening = asyncio.Lock()
            self._loop = loop
        async with self._opening:
            if engine in self._pools:
                return self._pools[engine]
            if not self._migrated:
                await self._migrate()
            kwargs = connect_kwargs(self.url)
            if engine:
                kwargs["server_settings"]["enable_seqscan"] = "off"
                # The engine's statements run thousands of times a second: planned once. Left
                # to choose, the server planned the claim afresh at every call (its generic
                # plan looked dearer than a custom one): 1.2 ms a claim instead of 0.35.
                kwargs["server_settings"]["plan_cache_mode"] = "force_generic_plan"
            if engine and self._fast_engine:
                kwargs["server_settings"]["synchronous_commit"] = "off"
            if self._read_only:
                # The server itself refuses every change (ReadOnlyStoreError).
                kwargs["server_settings"]["default_transaction_read_only"] = "on"
            try:
                self._pools[engine] = await asyncpg.create_pool(
                    **kwargs, min_size=1, max_size=ENGINE_POOL_SIZE if engine else POOL_SIZE,
                    init=self._init_connection, reset=_keep_session,
                )  # fmt: skip
            except Exception as error:
                raise translate(error, self.location) from None
            return self._pools[engine]

    async def _migrate(self) -> None:
        """Create or migrate the schema (a read-only store only checks its version)."""
        conn = await connect(self.url)
        try:
            if self._read_only:
                await check_version(conn, self.url.schema, self.location)
            else:
                await migrate(conn, self.url.schema, self.location, create=self._create)
        except JobsError:
            raise
        except Exception as error:
            raise translate(error, self.location) from None
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
        self._migrated = True

    async def _init_connection(self, conn: Conn) -> None:
        # Notifications from our own connections are not changes made by another process.
        self._own_pids.add(conn.get_server_pid())

    def _abandon(self) -> None:
        """Drop pools whose event loop has ended (their connections died with it)."""
        pools, self._pools = list(self._pools.values()), {}
        self._kept, self._busy = {}, set()
        for pool in pools:
            with contextlib.suppress(Exception):
                pool.terminate()

    def connection(self, engine: bool = False, *, counted: bool = True) -> Lease:
        """A connection to use in `async with`: the pool's kept one when it is free, else
        one lent by the pool; `counted`: its lending moves `activity`."""
        return Lease(self, engine, counted)

    def take_kept(self, engine: bool) -> Lent | None:
        """The kept connection of the pool of `engine`, marked lent, if it is free."""
        kept = self._kept.get(engine)
        if kept is None or engine in self._busy:
            return None
        if not _usable(kept):
            del self._kept[engine]
            return None
        self._busy.add(engine)
        return kept

    def keep(self, engine: bool, conn: Lent, pool: asyncpg.Pool, broken: bool) -> bool:
        """Whether `conn`, lent by `pool`, stays out of it as the pool's kept connection (it
        was, or there is none: it becomes it); a `broken` one goes back (the pool replaces
        it)."""
        kept = self._kept.get(engine)
        if kept is conn:
            self._busy.discard(engine)
            if not broken:
                return True
            del self._kept[engine]
            return False
        if kept is None and not broken and self._pools.get(engine) is pool:
            self._kept[engine] = conn
            return True
        return False

    async def write(
        self, fn: Work[R], *, engine: bool = False, atomic: bool = True, counted: bool = True
    ) -> R:
        """Run `fn` in one transaction, again if it lost a deadlock or serialisation race.

        `atomic=False`: `fn` is a single statement, its own transaction (no BEGIN and COMMIT
        round trips).
        """
        for attempt in range(RETRIES):
            try:
                async with self.connection(engine, counted=counted) as conn:
                    if not atomic:
                        return await fn(conn)
                    async with conn.transaction():
                        return await fn(conn)
            except RETRYABLE:
                if attempt == RETRIES - 1:
                    raise StoreUnavailableError(
                        f"{self.location}: gave up after {RETRIES} conflicting transactions"
                    ) from None
                await asyncio.sleep(0.001 * 2**attempt)
            except JobsError:
                raise
            except Exception as error:
                raise translate(error, self.location) from None
        raise AssertionError("unreachable")

    async def one(self, fn: Work[R], *, engine: bool = False, counted: bool = True) -> R:
        """Run `fn`, a single statement (its own transaction), on a pooled connection."""
        try:
            async with self.connection(engine, counted=counted) as conn:
                return await fn(conn)
        except JobsError:
            raise
        except Exception as error:
            raise translate(error, self.location) from None

    async def read(self, fn: Work[R]) -> R:
        """Run a read-only `fn` in one snapshot; once more on a fresh connection if the
        server went away (a restart), since reading twice is harmless."""
        for attempt in range(2):
            try:
                async with (
                    self.connection() as conn,
                    conn.transaction(isolation="repeatable_read", readonly=True),
                ):
                    return await fn(conn)
            except CONNECTION_LOST as error:
                if attempt:
                    raise translate(error, self.location) from None
            except JobsError:
                raise
            except Exception as error:
                raise translate(error, self.location) from None
        raise AssertionError("unreachable")

    def terminate(self) -> None:
        """Drop every connection now, without waiting (for callers that cannot await)."""
        self._abandon()

    async def close(self) -> None:
        if self._loop is not asyncio.get_running_loop():
            self._abandon()
            return
        for engine, kept in list(self._kept.items()):
            del self._kept[engine]
            if engine not in self._busy:  # else its lease gives it back to the pool
                with contextlib.suppress(Exception):
                    await self._pools[engine].release(kept)
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            try:
                await asyncio.wait_for(pool.close(), 5.0)
            except Exception:
                pool.terminate()


class Lease:
    """`Database.connection`: lends the pool's kept connection when it is free, else one of
    the pool's. A lone statement on the kept one skips the pool's acquire and release (~30 µs
    of the caller's CPU: a future, a proxy and a task each way). A connection that failed
    other than by a server-reported error is closed rather than lent again (it may be
    half-way through a broken exchange)."""

    __slots__ = ("_conn", "_counted", "_db", "_engine", "_pool")

    def __init__(self, db: Database, engine: bool, counted: bool = True) -> None:
        self._db = db
        self._engine = engine
        self._counted = counted

    async def __aenter__(self) -> Lent:
        self._count(1)
        try:
            return await self._lend()
        except BaseException:
            self._count(-1)
            raise

    def _count(self, lent: int) -> None:
        if self._counted:
            self._db.activity += 1
            self._db.lent += lent

    async def _lend(self) -> Lent:
        self._pool = pool = await self._db.pool(self._engine)
        conn = self._db.take_kept(self._engine)
        self._conn = conn if conn is not None else await pool.acquire()
        return self._conn

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._count(-1)
        broken = kind is not None and not issubclass(kind, asyncpg.PostgresError)
        if broken and _usable(self._conn):
            self._conn.terminate()
        if not self._db.keep(self._engine, self._conn, self._pool, broken):
            await self._pool.release(self._conn)


def _usable(conn: Lent) -> bool:
    """Whether `conn` is still open and lent: a connection the server closed went back to
    its pool by itself (which replaces it), leaving the proxy empty."""
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False
