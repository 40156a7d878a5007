"""WAL checkpoints in a background thread, so enqueues and claims rarely pay for one.

SQLite's automatic checkpoint runs inside whichever commit crosses the threshold, and it
fsyncs even at `synchronous=NORMAL`: measured here it tripled the cost of a commit
(65 µs against 23 µs). Every process that opens a store runs one of these instead.

A passive checkpoint alone never lets the WAL start over while a writer keeps committing:
SQLite rewinds the WAL only for a write that begins when every frame is already copied to
the database, and a producer commits new frames while the copy runs. The WAL then grew
without end (103 MB after 20,000 awaited enqueues) and every commit appended to the file.
An append costs more than an overwrite at every durability: at FULL its fsync also
journals the file's new size (~250 µs against ~150 for an overwrite of 16 KB on this VM);
at NORMAL the kernel gives each new page of the file a fresh page-cache page (one awaited
enqueue's transaction, two frames: 20.3 µs of CPU appending against 18.4 overwriting), and
beside an engine in another process the producer held the lock ~2-5 µs of CPU less a job (bench
README, issue 13's tenth pass). So once a passive checkpoint has copied most of it, a
RESTART checkpoint copies the rest and rewinds the WAL. It waits at most `RESTART_WAIT_MS`
for the write lock and for readers still in the WAL (then it ends as a passive one would,
until the next round), and holds writers off while it copies the frames written since the
passive one and syncs the database (an fsync: ~0.2 ms on a quiet disk, tens of ms on a
saturated one), at most once a `CHECK_SECS` and only while the WAL is over its limit.
When it finds no gap for the lock within that wait (a producer committing back to back
leaves gaps of tens of µs), at FULL the store's writer makes it just after its next commit
(`Checkpointer.rewind`): the one checkpoint a commit may pay for, once per WAL limit written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading

from jobs_core.settings import Durability

from .connection import open_connection
from .fork_guard import ForkGuard

log = logging.getLogger("jobs.store")

CHECK_SECS = 0.25
WAL_LIMIT_BYTES = 4 * 1024 * 1024
RESTART_WAIT_MS = 2
"""How long the RESTART checkpoint waits for the write lock (an enqueue, claim or finish
holds it well under a millisecond), then, holding it, for readers still in the WAL
(writers wait meanwhile)."""
REWIND_TRIES = 8
"""Commits after which the store's writer gives up a rewind the checkpointer left to it
(`Checkpointer.rewind`), until the checkpointer's next round."""


class Checkpointer:
    """Checkpoints the WAL when it holds more than `WAL_LIMIT_BYTES`, and rewinds it."""

    def __init__(self, path: str, durability: Durability) -> None:
        self._path = path
        self._wal = path + "-wal"
        self._durability = durability
        self._stop = threading.Event()
        self._guard = ForkGuard()
        self._page_size = 4096
        self._thread: threading.Thread | None = None
        self.rewind_tries = 0
        # Opened here, not in the thread: a fork right after the store opened must not
        # land inside the open (fork_guard.py).
        try:
            conn = open_connection(path, durability=durability, busy_timeout_ms=0)
            self._page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        except Exception as error:  # a checkpoint failure must never take the process down
            log.warning("checkpointer for %s not started: %s", path, error)
            return
        self._thread = threading.Thread(
            target=self._run, args=(conn,), name="jobs-checkpoint", daemon=True
        )
        self._thread.start()

    def _run(self, conn: sqlite3.Connection) -> None:
        try:
            while not self._stop.wait(CHECK_SECS):
                self._maybe_checkpoint(conn)
        except Exception as error:  # a checkpoint failure must never take the process down
            log.warning("checkpointer for %s stopped: %s", self._path, error)
        finally:
            with self._guard:
                conn.close()

    def _maybe_checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            if os.path.getsize(self._wal) < WAL_LIMIT_BYTES:
                return
        except OSError:
            return
        # Busy means another process is checkpointing; the next round will do.
        with self._guard, contextlib.suppress(sqlite3.OperationalError):
            _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames * self._page_size < WAL_LIMIT_BYTES:
                return  # (or rewound since the file grew: writes overwrite it already)
            conn.execute(f"PRAGMA busy_timeout = {RESTART_WAIT_MS}")
            try:
                busy = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]
            finally:
                conn.execute("PRAGMA busy_timeout = 0")
            if busy and self._durability is Durability.FULL:
                self.rewind_tries = REWIND_TRIES

    def rewind(self, conn: sqlite3.Connection) -> None:
        """The RESTART this thread could not make, made by the store's writer on its own
        connection `conn` just after one of its commits (`rewind_tries` > 0).

        SQLite's busy wait polls every millisecond or more, and a producer that commits
        back to back holds the write lock most of the time (at FULL for the fsync of each
        commit, ~90% of it): the RESTART above then failed at every round (7 of 7 in 8,000
        enqueues), the WAL grew without end and every commit appended to it, whose fsync
        also journals the file's new size (awaited enqueues at FULL: ~4,200 a second
        appending against ~7,800 overwriting, in a bare SQLite loop here). Right after its
        own commit the writer finds the lock free unless another process took it, and most
        frames are copied already: the RESTART copies the rest and syncs the database
        (~0.3-0.6 ms, once per `WAL_LIMIT_BYTES` written). Any error is dropped: the
        commit before it stands, and the next round tries again.

        At FULL only: there every commit waits for an fsync anyway, and appending nearly
        doubled it. At NORMAL no commit on the event loop waits for one, and this one would
        (the RESTART syncs the database file: tens of ms on a saturated disk) to save ~1%
        (`bench/wal_rewind.py --durability NORMAL`: 30,603 against 30,961 enqueues/s)."""
        self.rewind_tries -= 1
        try:
            if not conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]:
                self.rewind_tries = 0
        except sqlite3.Error as error:
            self.rewind_tries = 0
            log.debug("rewinding the WAL of %s failed: %s", self._path, error)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
