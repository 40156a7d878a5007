"""Counters for `pair_counts.py`, installed in a process by patching `SqliteStore`: claims
(how many, how many took jobs, their sizes, their CPU), outcome writes, write transactions
and the wall time they hold the lock, failed `BEGIN IMMEDIATE`s and spins given up, SQLite's
page-cache hits and misses of the loop's connection (`sqlite3_db_status`, read at close),
the WAL's largest size and the checkpointer's passes; per kind of write transaction (the
store method that began it: enqueue, claim, finish_and_claim, archive, ...) the CPU while it
held the lock and the pages it wrote (`CACHE_WRITE`, exact whatever the load); with
JOBS_BENCH_SQL=1, the thread CPU of each statement of the loop's connection (a proxy
around it, in the engine's process). For measurement only: the wrappers cost a few µs a
call.
"""

from __future__ import annotations

import contextvars
import ctypes
import inspect
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from jobs_core.store.sqlite import checkpointer as ck
from jobs_core.store.sqlite import store as st

COUNTS: Counter[str] = Counter()
SIZES: Counter[int] = Counter()
CACHE: dict[str, int] = {}
_DB_STATUS = {"cache_hits": 7, "cache_misses": 8}
"""SQLITE_DBSTATUS_CACHE_HIT and _MISS."""
CACHE_WRITE = 9
"""SQLITE_DBSTATUS_CACHE_WRITE: pages the connection wrote (to the WAL, at commit)."""


def _status(conn: sqlite3.Connection, op: int, reset: bool = False) -> int:
    """One of the connection's `sqlite3_db_status` counters, through its `sqlite3 *` (the
    first field after the object header of CPython's connection object; the module links
    libsqlite3)."""
    lib = ctypes.CDLL("libsqlite3.so.0")
    db = ctypes.c_void_p.from_address(id(getattr(conn, "conn", conn)) + 16).value
    if not db:  # a closed connection's handle is NULL: SQLite would crash on it (dmesg)
        return 0
    cur, high = ctypes.c_int(), ctypes.c_int()
    lib.sqlite3_db_status(
        ctypes.c_void_p(db), op, ctypes.byref(cur), ctypes.byref(high), int(reset)
    )
    return cur.value


def _cache(conn: sqlite3.Connection) -> dict[str, int]:
    return {name: _status(conn, op) for name, op in _DB_STATUS.items()}


KIND: contextvars.ContextVar[str] = contextvars.ContextVar("kind", default="other")
"""The store method whose write transaction runs (one per asyncio task)."""
KINDS = {
    "_insert_group_now": "enqueue", "_insert_group": "enqueue", "claim": "claim",
    "finish": "finish", "finish_and_claim": "finish_and_claim",
    "archive_finished": "archive", "heartbeat": "heartbeat",
}  # fmt: skip


def _wrap_kinds() -> None:
    """Name each write transaction by the store method that began it (`KIND`)."""
    for method, kind in KINDS.items():
        original = getattr(st.SqliteStore, method)

        def named(*args: Any, _f: Any = original, _k: str = kind, **kwargs: Any) -> Any:
            token = KIND.set(_k)
            try:
                return _f(*args, **kwargs)
            finally:
                KIND.reset(token)

        async def named_async(*args: Any, _f: Any = original, _k: str = kind, **kw: Any) -> Any:
            token = KIND.set(_k)
            try:
                return await _f(*args, **kw)
            finally:
                KIND.reset(token)

        wrapper = named_async if inspect.iscoroutinefunction(original) else named
        setattr(st.SqliteStore, method, wrapper)


class _Timed:
    """A connection's stand-in that counts the thread CPU of each statement (by its first
    words) and hands back its rows."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, *args: Any) -> _Rows:
        began = time.thread_time()
        cursor = self.conn.execute(sql, *args)
        rows = cursor.fetchall()
        COUNTS["sql_cpu_us " + " ".join(sql.split())[:60]] += round(
            (time.thread_time() - began) * 1e6
        )
        return _Rows(rows, cursor.lastrowid)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


class _Rows:
    def __init__(self, rows: list[Any], lastrowid: int | None) -> None:
        self.rows, self.lastrowid = rows, lastrowid

    def fetchall(self) -> list[Any]:
        return self.rows

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Any:
        return iter(self.rows)


def _time_statements() -> None:
    init = st.SqliteStore.__init__

    def timed_init(self: st.SqliteStore, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._conn = _Timed(self._conn)  # type: ignore[assignment]

    st.SqliteStore.__init__ = timed_init  # type: ignore[method-assign]


def install() -> None:
    """Patch `SqliteStore` and the checkpointer of this process."""
    _wrap_claims()
    _wrap_transactions()
    _wrap_checkpoints()
    _wrap_kinds()
    if os.environ.get("JOBS_BENCH_SQL") and os.environ.get("JOBS_BENCH_COUNTS"):
        _time_statements()
    close = st.SqliteStore.close

    async def counted_close(self: st.SqliteStore) -> None:
        if not CACHE:
            CACHE.update(_cache(self._conn))
        await close(self)

    st.SqliteStore.close = counted_close  # type: ignore[method-assign]


def _wrap_claims() -> None:
    claim, finish = st.SqliteStore.claim, st.SqliteStore.finish

    async def counted_claim(self: st.SqliteStore, **kwargs: Any) -> Any:
        began = time.process_time()
        jobs = await claim(self, **kwargs)
        COUNTS["claims"] += 1
        COUNTS["claims_that_took_jobs"] += bool(jobs)
        key = "claim_cpu_us" if jobs else "empty_claim_cpu_us"
        COUNTS[key] += round((time.process_time() - began) * 1e6)
        if jobs:
            SIZES[len(jobs)] += 1
            COUNTS["claims_full"] += len(jobs) == kwargs["limit"]
            COUNTS["claimed_limit_sum"] += kwargs["limit"]
        return jobs

    async def counted_finish(self: st.SqliteStore, *args: Any) -> Any:
        began = time.process_time()
        result = await finish(self, *args)
        COUNTS["outcome_writes"] += 1
        COUNTS["outcome_cpu_us"] += round((time.process_time() - began) * 1e6)
        return result

    async def counted_both(self: st.SqliteStore, *args: Any, **kwargs: Any) -> Any:
        # An outcome write with the next claim in it (`finish_and_claim`): one of each, its
        # CPU the outcome write's.
        began = time.process_time()
        result, jobs = await finish_and_claim(self, *args, **kwargs)
        COUNTS["outcome_writes"] += 1
        COUNTS["outcome_cpu_us"] += round((time.process_time() - began) * 1e6)
        COUNTS["claims"] += 1
        COUNTS["claims_that_took_jobs"] += bool(jobs)
        if jobs:
            SIZES[len(jobs)] += 1
        return result, jobs

    st.SqliteStore.claim = counted_claim  # type: ignore[method-assign]
    st.SqliteStore.finish = counted_finish  # type: ignore[method-assign]
    finish_and_claim = getattr(st.SqliteStore, "finish_and_claim", None)
    if finish_and_claim is not None:
        st.SqliteStore.finish_and_claim = counted_both  # type: ignore[method-assign]


HELD: list[tuple[float, float]] = []
"""Each write transaction's lock held, from and to (`time.perf_counter`: one clock for
every process of the machine)."""
WAITS: list[tuple[float, float]] = []
"""Each write that found the lock held: when it first tried, when it got the lock."""
_WAIT: list[float] = []
"""When the write under way first tried to take the lock (empty: none under way)."""


LONG_HOLD_SECS = 0.002
"""A write holding the lock longer than this outlasts a waiter's spin (`SPIN_SECS`): counted
by what it did (`long_holds_<kind>`)."""


def _kind(fn: Callable[..., Any]) -> str:
    """What a write transaction does, from its function's name (`SqliteStore.<method>`)."""
    inner = getattr(fn, "func", fn)
    name = getattr(inner, "__qualname__", "")
    return name.split(".")[1] if name.startswith("SqliteStore.") else inner.__name__.strip("_<>")


def _wrap_transactions() -> None:
    in_transaction, spin = st.SqliteStore._in_transaction, st.SqliteStore._spin
    retry_busy = st.SqliteStore._retry_busy

    async def waited(self: st.SqliteStore, fn: Callable[[], Any], **kwargs: Any) -> Any:
        outer = not _WAIT
        if outer:
            _WAIT.append(time.perf_counter())
        try:
            return await retry_busy(self, fn, **kwargs)
        finally:
            if outer:
                _WAIT.clear()

    def timed(self: st.SqliteStore, fn: Callable[[sqlite3.Connection], Any], **kwargs: Any) -> Any:
        began = time.perf_counter()
        cpu = [0.0]

        def inner(conn: sqlite3.Connection) -> Any:
            nonlocal began
            # The lock is held (and the inbox's jobs moved in, where the write moves them).
            began = time.perf_counter()
            cpu[0] = time.thread_time()
            if _WAIT:
                COUNTS["lock_wait_us"] += round((began - _WAIT[0]) * 1e6)
                WAITS.append((_WAIT[0], began))
                _WAIT[0] = began
            return fn(conn)

        try:
            result = in_transaction(self, inner, **kwargs)
        except sqlite3.DatabaseError:
            COUNTS["busy_begins"] += 1
            raise
        COUNTS["write_transactions"] += 1
        ended = time.perf_counter()
        COUNTS["lock_held_us"] += round((ended - began) * 1e6)
        held_cpu = round((time.thread_time() - cpu[0]) * 1e6)
        COUNTS["lock_held_cpu_us"] += held_cpu
        kind = KIND.get()
        COUNTS[f"{kind}: transactions"] += 1
        COUNTS[f"{kind}: lock_held_cpu_us"] += held_cpu
        COUNTS[f"{kind}: pages_written"] += _status(self._conn, CACHE_WRITE, reset=True)
        if ended - began > LONG_HOLD_SECS:
            long_kind = _kind(fn)
            COUNTS[f"long_holds_{long_kind}"] += 1
            COUNTS[f"long_holds_{long_kind}_us"] += round((ended - began) * 1e6)
        HELD.append((began, ended))
        return result

    def counted_spin(self: st.SqliteStore, fn: Callable[[], Any]) -> Any:
        outer = not _WAIT
        if outer:
            _WAIT.append(time.perf_counter())
        try:
            result = spin(self, fn)
        finally:
            if outer:
                _WAIT.clear()
        COUNTS["spins_given_up"] += isinstance(result, st._Locked)
        return result

    st.SqliteStore._in_transaction = timed  # type: ignore[method-assign]
    st.SqliteStore._spin = counted_spin  # type: ignore[method-assign]
    st.SqliteStore._retry_busy = waited  # type: ignore[method-assign]


def _wrap_checkpoints() -> None:
    check = ck.Checkpointer._maybe_checkpoint

    def counted(self: ck.Checkpointer, conn: sqlite3.Connection) -> None:
        try:
            size = os.path.getsize(self._wal)
        except OSError:
            size = 0
        COUNTS["wal_max_kb"] = max(COUNTS["wal_max_kb"], size // 1024)
        began = time.thread_time()
        check(self, conn)
        if size >= ck.WAL_LIMIT_BYTES:
            COUNTS["checkpoints"] += 1
            COUNTS["checkpoint_cpu_us"] += round((time.thread_time() - began) * 1e6)

    ck.Checkpointer._maybe_checkpoint = counted  # type: ignore[method-assign]


def report() -> dict[str, Any]:
    """What was counted in this process."""
    sizes = sorted(SIZES.elements())
    median = {"median_claim_size": sizes[len(sizes) // 2]} if sizes else {}
    return {**COUNTS, **CACHE, **median}


def dump(path: str) -> None:
    with open(path, "w") as out:
        json.dump({**report(), "held": HELD, "waits": WAITS}, out)
