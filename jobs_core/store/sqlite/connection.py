"""Opening SQLite connections with our pragmas, and turning SQLite errors into ours."""

from __future__ import annotations

import ctypes
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from jobs_core.errors import StoreBusyError, StoreError
from jobs_core.settings import Durability

LOOP_BUSY_TIMEOUT_MS = 0
"""SQLite's own busy wait on the event-loop connection, once open: none. Its busy handler
sleeps 1 ms at its first wait (measured: a lock held 200 µs elsewhere cost the waiter
1.2 ms), ten times what a write holds the lock; the store polls for it instead
(`SqliteStore._spin`)."""


LIVE_PAGE_SIZE = 2048
"""Page size of a new live store. Every commit writes each page it changed to the WAL in
full; an enqueue changes two (the job row's and the ready index's; three, with the
summary's, before `jobs.db` v8): with 2 KB pages a single enqueue cost 12% less CPU than
with SQLite's 4 KB (measured with three: 59.5-62 against 68-71 µs), and claims and
finishes the same; 1 KB pages made claims and finishes dearer. A store keeps the page size
it was created with."""


def open_connection(
    path: str, *, durability: Durability, busy_timeout_ms: int, readonly: bool = False,
    page_size: int | None = None,
) -> sqlite3.Connection:  # fmt: skip
    """A connection in autocommit mode (we issue BEGIN ourselves) with WAL and our pragmas;
    `page_size` applies if the database is new (before WAL mode, which fixes it)."""
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    try:
        conn = _connect(uri, path, readonly)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if page_size is not None and not readonly:
            conn.execute(f"PRAGMA page_size = {int(page_size)}")
        if not readonly:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{path}: cannot switch to WAL journal mode (got {mode})")
        conn.execute(f"PRAGMA synchronous = {durability.value}")
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("PRAGMA temp_store = MEMORY")
    except sqlite3.DatabaseError as error:
        raise translate(error, path) from None
    return conn


def _connect(uri: str, path: str, readonly: bool) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, cached_statements=512
        )
        conn.execute("PRAGMA schema_version").fetchone()  # opens the file now
        return conn
    except sqlite3.OperationalError:
        if not readonly or os.access(os.path.dirname(path) or ".", os.W_OK):
            raise
    # A read-only directory (a copied store, a backup): a WAL reader cannot create its index
    # there, and no process can be writing, so the files are read as they are.
    return sqlite3.connect(
        uri + "&immutable=1", uri=True, isolation_level=None, check_same_thread=False
    )


@contextmanager
def transaction(conn: sqlite3.Connection, *, write: bool = True) -> Iterator[sqlite3.Connection]:
    """One transaction: BEGIN IMMEDIATE for writes (so lock waits happen up front), else BEGIN."""
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


_PR_SET_TIMERSLACK, _PR_GET_TIMERSLACK = 29, 30
FINE_SLACK_NS = 1000
"""The thread's timer slack while it polls for a lock another process holds (`fine_sleeps`).
Linux lets a sleeping thread wake up to its slack late, 50 µs by default: a 50 µs sleep
between polls took ~120-190 µs, and each lock the waiter found held was taken that much
after its release; with 1 µs of slack the same sleep takes ~65 µs."""


def _prctl() -> Callable[..., int] | None:
    """The C library's `prctl`, on Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _prctl()


@contextmanager
def fine_sleeps() -> Iterator[None]:
    """Sleeps of this thread end close to when they are due (Linux; elsewhere as they
    are): its timer slack is `FINE_SLACK_NS` inside, then what it was."""
    prctl, zero = _PRCTL, ctypes.c_ulong(0)  # its arguments are `unsigned long`s
    before = prctl(_PR_GET_TIMERSLACK, zero, zero, zero, zero) if prctl is not None else -1
    if before <= 0 or prctl is None:
        yield
        return
    prctl(_PR_SET_TIMERSLACK, ctypes.c_ulong(FINE_SLACK_NS), zero, zero, zero)
    try:
        yield
    finally:
        prctl(_PR_SET_TIMERSLACK, ctypes.c_ulong(before), zero, zero, zero)


def is_busy(error: sqlite3.Error) -> bool:
    """Whether `error` means another connection holds the lock (worth retrying)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return True
    text = str(error).lower()
    return "database is locked" in text or "database is busy" in text


def stayed_locked(path: str, secs: float) -> StoreBusyError:
    """The error of a write that waited `secs` (`busy_timeout_secs`) for the lock."""
    return StoreBusyError(f"{path} stayed locked by another process for more than {secs:g}s")


def translate(error: sqlite3.Error, path: str) -> StoreError:
    """Our error for an SQLite error, naming the database and what went wrong."""
    text = str(error)
    lowered = text.lower()
    if is_busy(error):
        return StoreBusyError(f"{path} stayed locked by another process: {text}")
    if "disk is full" in lowered or "disk i/o error" in lowered:
        return StoreError(f"cannot write {path}: {text} (is the disk full?)")
    if "not a database" in lowered or "malformed" in lowered:
        return StoreError(f"{path} is corrupt or not an SQLite database: {text}")
    if "unable to open" in lowered:
        return StoreError(f"cannot open {path}: {text}")
    if "readonly" in lowered:
        return StoreError(f"{path} is read-only: {text}")
    return StoreError(f"{path}: {text}")
