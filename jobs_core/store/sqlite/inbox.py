"""The inbox: plain jobs appended to a file of their own, so that an awaited `enqueue`
never waits for the engine's write lock on `jobs.db`.

SQLite has one writer a file. A producer that awaits one `enqueue` a job, beside an engine
in another process, spent a third of its time waiting out the engine's claims and finishes
(bench/README, issue 13's tenth and twelfth passes); at `Durability.FULL` each of its
fsyncs waited too. A lone job that needs nothing looked up or decided as it is inserted
(`queue.inbox_route`: no ref_id, unique key, parent, batch, dependency or named worker; a
queue, priority, concurrency key, expiry, retry policy, tag, meta, callback, creator, user,
`reply_to` or args are columns like any other) and small groups of them are appended to
`jobs.inbox` instead, with its own WAL and write lock, at the configured durability: the job
is durable when `enqueue` returns, as before.

Jobs move into `jobs.db` past a mark kept in `jobs.db` and moved in the same transaction,
so a move happens exactly once whatever process dies when: before any job is inserted there
(a write moves first, so every job in `jobs.db` is older than the inbox's), and before
every read of jobs (`_read`: every read sees every job enqueued before it). A claim that
took every ready job of `jobs.db` starts the inbox's next due plain jobs of its commands
(`start_moved`), as many as it has room for: no entry in the ready index written and
deleted, no claim UPDATE. The rows before the last one it started are moved in, the rows
after it stay for the next claim, so an engine behind its producers starts every job from
the inbox. Only plain jobs (default queue, priority 0, nothing routed) ahead of any other
row: a claim moves the inbox in before it decides when a routed row (a queue, priority,
key, expiry, tag...) waits in it (`ROUTED_PENDING`), to weigh it against its queue's and
key's limits and by priority like any ready job, or when `jobs.db` holds a ready job the
plain ones rank with (`BEHIND`: another queue's, which takes turns with them, or one of a
lower priority); the plain jobs behind a routed row wait their turn with it (first in,
first out). A producer moves its jobs itself when no writer took any within
`MOVE_AFTER_SECS`, or when its oldest waited `MOVE_STALE_SECS` while engines took others
(a read-only store cannot move, and sees them then). Moved rows are deleted from the
inbox (`trim`) once `jobs.db`'s WAL was synced past the move.

Ids: a producer numbers its jobs from a block it reserves in `jobs.db` (`job_id_floor`,
past which every other insert numbers), and gives back what it did not use in its next
write transaction on `jobs.db` (`IdBlock.release`): jobs of one process keep consecutive
ids whatever path they take; another process's jobs meanwhile number past the block.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from typing import Any

from jobs_core.records import Job
from jobs_core.settings import Durability

from . import rows as row_module
from .connection import LIVE_PAGE_SIZE, is_busy, open_connection, translate
from .files import create_private
from .rows import ONE_SELECT
from .summaries import NEXT_ID

INBOX_FILE = "jobs.inbox"

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY,
    id INTEGER NOT NULL,
    command TEXT NOT NULL,
    request_type TEXT,
    request_body TEXT NOT NULL,
    run_after INTEGER NOT NULL,
    created_date INTEGER NOT NULL,
    retry_limit INTEGER,
    timeout_secs REAL
)
"""
"""`seq` orders the moves: the rowid, never given again because a trim keeps the last row
(AUTOINCREMENT would write its `sqlite_sequence` page each append: a second page a
commit); `id` is the job's. The routed columns (`ROUTE_COLUMNS`) are added by `upgrade`."""

ROUTE_COLUMNS = (
    ("queue", "TEXT"), ("priority", "INTEGER"), ("concurrency_key", "TEXT"),
    ("concurrency_limit", "INTEGER"), ("expires_at", "INTEGER"), ("retry_policy", "TEXT"),
    ("tag", "TEXT"), ("meta", "TEXT"),
    ("callback", "TEXT"), ("created_by", "TEXT"), ("user_id", "TEXT"), ("reply_to", "TEXT"),
    ("args", "TEXT"),
)  # fmt: skip
"""The optional columns a job in the inbox may set (NULL: `background_job`'s default), in
`queue.inbox_route`'s order; all NULL is a plain job. Files made before them (schema 10, the
first eight; schema 11, the last five) get them when a store of this version opens the
inbox."""
FLOW_ROUTE_WIDTH = 8
"""The first columns of `ROUTE_COLUMNS` (queue to meta): a route that sets none of the others
(`queue.inbox_route`) holds these alone."""
_ROUTED = ", ".join(name for name, _ in ROUTE_COLUMNS)
_ROUTED_ROW = "(" + " OR ".join(f"{name} IS NOT NULL" for name, _ in ROUTE_COLUMNS) + ")"
ROUTED_INDEX_NAME = "ix_inbox_routed_v12"
ROUTED_INDEX = f"CREATE INDEX IF NOT EXISTS {ROUTED_INDEX_NAME} ON inbox(seq) WHERE {_ROUTED_ROW}"
"""The routed rows alone (a plain append writes no entry): whether one waits, and where the
first is, are a seek, however many plain rows wait.

Named for the schema that added the last five columns: schema 11's `ix_inbox_routed` (its
WHERE without them) is dropped by `upgrade`, so that a process of that version still running
beside this one fails loudly at its next move (its statements name the old index) instead
of moving a row with a creator or user as a plain job, without them."""
OLD_ROUTED_INDEX = "DROP INDEX IF EXISTS ix_inbox_routed"

APPEND = """
INSERT INTO inbox (id, command, request_type, request_body, run_after, created_date,
    retry_limit, timeout_secs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
"""A plain job's row (`row_values` without a route): binding the routed columns' NULLs
cost an awaited `enqueue` ~2 µs."""


def _append_routed(width: int) -> str:
    """The append of rows routed by the first `width` of `ROUTE_COLUMNS`."""
    names = ", ".join(name for name, _ in ROUTE_COLUMNS[:width])
    return f"""
INSERT INTO inbox (id, command, request_type, request_body, run_after, created_date,
    retry_limit, timeout_secs, {names}) VALUES ({", ".join("?" * (8 + width))})
"""


APPEND_FLOW = _append_routed(FLOW_ROUTE_WIDTH)
"""A row routed by its flow columns alone (a queue, priority...): binding the other five
NULLs cost an awaited `enqueue` ~1.5 µs."""
APPEND_ROUTED = _append_routed(len(ROUTE_COLUMNS))

LAST_SEQ = "SELECT max(seq) FROM inbox"
EPOCH_TABLE = "CREATE TABLE IF NOT EXISTS inbox_epoch (epoch TEXT NOT NULL)"
EPOCH = """
INSERT INTO inbox_epoch (epoch) SELECT lower(hex(randomblob(16)))
WHERE NOT EXISTS (SELECT 1 FROM inbox_epoch)
"""
"""The inbox file's identity, made with it: the mark in `jobs.db` counts for this file
only, so an inbox removed and made again (its `seq` starting over) has all its rows
moved."""

_MARK = """(SELECT CASE WHEN m.epoch = (SELECT epoch FROM inbox.inbox_epoch) THEN m.seq ELSE 0 END
    FROM main.inbox_mark m)"""
MARK = f"SELECT {_MARK}"
PROGRESS = f"""SELECT {_MARK},
    (SELECT created_date FROM inbox.inbox WHERE seq > {_MARK} ORDER BY seq LIMIT 1)"""
"""The mark, and when the first job past it was enqueued (None: none waits)."""

TAKE_LOCK = "UPDATE main.inbox_mark SET seq = seq WHERE 0"
"""The first statement of a write transaction on `jobs.db` (after a deferred BEGIN): its
write lock alone. The inbox is attached to the connection, and BEGIN IMMEDIATE would take
the write lock of every attached file, the inbox's too, which the producers need."""

_UNKNOWN = """NOT EXISTS (SELECT 1 FROM main.background_job b WHERE b.id = i.id)
    AND NOT EXISTS (SELECT 1 FROM main.job_summary s WHERE s.id = i.id)"""
"""A row whose job `jobs.db` has never had, live or archived: past the mark, only a mark
set back (`jobs.db` restored from a copy beside a newer inbox) makes one known, and it
must not run twice."""

_FIRST_ROUTED = f"""(SELECT min(seq) FROM inbox.inbox INDEXED BY {ROUTED_INDEX_NAME}
    WHERE seq > {_MARK} AND {_ROUTED_ROW})"""

ALL = 9223372036854775807
"""The `:upto` of a move that takes every row past the mark."""

MOVE_PLAIN = f"""
INSERT INTO main.background_job (id, command, request_type, request_body, state, worker,
    run_after, created_date, retry_limit, timeout_secs)
SELECT id, command, request_type, request_body, 'queued', '', run_after, created_date,
    retry_limit, timeout_secs
FROM inbox.inbox AS i
WHERE seq > {_MARK} AND seq <= :upto AND {_UNKNOWN}
ORDER BY seq
"""
"""`MOVE` when no routed row waits: copying the routed columns' NULLs cost ~0.25 µs a row."""

MOVE = f"""
INSERT INTO main.background_job (id, command, request_type, request_body, state, worker,
    run_after, created_date, retry_limit, timeout_secs, {_ROUTED})
SELECT id, command, request_type, request_body, 'queued', '', run_after, created_date,
    retry_limit, timeout_secs, coalesce(queue, 'default'), coalesce(priority, 0),
    concurrency_key, coalesce(concurrency_limit, 1), expires_at, retry_policy, tag, meta,
    callback, created_by, user_id, reply_to, args
FROM inbox.inbox AS i
WHERE seq > {_MARK} AND seq <= :upto AND {_UNKNOWN}
ORDER BY seq
"""
"""The inbox's rows past the mark up to `:upto`, queued (those `START_MOVED` took are there
already)."""

START_MOVED = f"""
INSERT INTO main.background_job (id, command, request_type, request_body, state, worker,
    run_after, created_date, retry_limit, timeout_secs, owner, attempts, started_date,
    last_activity_date, cancel_requested)
SELECT id, command, request_type, request_body, 'started', '', run_after, created_date,
    retry_limit, timeout_secs, :owner, 1, :now, :now, 0
FROM inbox.inbox AS i
WHERE seq > {_MARK} AND seq <= :upto AND {_UNKNOWN} AND run_after <= :now
  AND command IN (SELECT value FROM json_each(:commands))
  AND seq < coalesce({_FIRST_ROUTED}, {ALL})
ORDER BY seq LIMIT :limit
RETURNING {ONE_SELECT}, command
"""
"""The inbox's first due rows of the claimer's commands, started (`claims.CLAIM_ONE`'s
columns, then the command): plain rows ahead of the first routed one (module docstring)."""

UPTO = f"""
SELECT seq FROM inbox.inbox
WHERE seq > {_MARK} AND run_after <= :now AND command IN (SELECT value FROM json_each(:commands))
  AND seq < coalesce({_FIRST_ROUTED}, {ALL})
ORDER BY seq LIMIT 1 OFFSET :limit - 1
"""
"""Where `START_MOVED` of `:limit` jobs ends, if the inbox has that many for it (else None):
the rows past it stay in the inbox (`Inbox.start_moved`). (A row `jobs.db` already has,
which `START_MOVED` skips, would only make the claim one job short.)"""

_READY = "state = 'queued' AND waiting_on IS NULL AND key_parked = 0"
BEHIND = f"""
SELECT EXISTS (SELECT 1 FROM main.background_job INDEXED BY ix_job_ready
               WHERE worker = '' AND queue < 'default' AND {_READY})
    OR EXISTS (SELECT 1 FROM main.background_job INDEXED BY ix_job_ready
               WHERE worker = '' AND queue > 'default' AND {_READY})
    OR EXISTS (SELECT 1 FROM json_each(:commands) AS c
               WHERE EXISTS (SELECT 1 FROM main.background_job INDEXED BY ix_job_ready
                             WHERE worker = '' AND queue = 'default' AND command = c.value
                               AND priority < 0 AND {_READY}))
"""
"""Whether `jobs.db` has a ready job that a plain inbox job (default queue, priority 0,
younger than every job in `jobs.db`) must be weighed with: one of another queue (queues
take turns) or of a lower priority. One seek each (by command for the priority: the ready
index orders by command before priority)."""

ROUTED_PENDING = f"SELECT {_FIRST_ROUTED} IS NOT NULL"
"""Whether a routed row waits to be moved: a claim moves the inbox in before it decides,
so that such a job is weighed with the ready ones (its priority, its queue's turn)."""

MOVE_MARK = f"""
UPDATE main.inbox_mark
SET seq = max({_MARK}, min(:upto, coalesce((SELECT max(seq) FROM inbox.inbox), 0))),
    epoch = (SELECT epoch FROM inbox.inbox_epoch)
RETURNING seq
"""

DEFAULT_HELD = """
SELECT 1 FROM main.job_queue WHERE name = 'default'
  AND (paused OR concurrency IS NOT NULL OR rate_limit IS NOT NULL)
"""
"""Whether the default queue has a setting a claim must weigh: its jobs are then moved
queued, for the claim to decide."""

TRIM = "DELETE FROM inbox WHERE seq <= ? AND seq < (SELECT max(seq) FROM inbox)"
"""The moved rows but the last: the next append then numbers past it."""

RESERVE = f"UPDATE job_id_floor SET max_id = ({NEXT_ID}) + ? RETURNING max_id"
RELEASE = "UPDATE job_id_floor SET max_id = ? WHERE max_id = ?"

ID_BLOCK = 1024
"""Ids a producer reserves at a time."""
MOST_JOBS = 8
"""The most jobs one group commit appends; more go to `jobs.db` as one transaction, which
batches already make cheap (the engine would move them one more time)."""
MOVE_AFTER_SECS = 0.05
"""How long after an append its producer moves it in itself if no writer did."""
MOVE_STALE_SECS = 1.0
"""How long a job may wait in the inbox while engines start its older neighbours from there
(the mark moves) before its producer moves it in all the same: a store open read-only
sees it as queued then."""
TRIM_EVERY = 2000
"""Moved rows the inbox keeps before a mover deletes them."""


def open_inbox(directory: str, durability: Durability, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection to the store's inbox, created (private) if missing."""
    path = os.path.join(directory, INBOX_FILE)
    create_private(path)
    conn = open_connection(
        path, durability=durability, busy_timeout_ms=busy_timeout_ms, page_size=LIVE_PAGE_SIZE
    )
    conn.execute("BEGIN IMMEDIATE")  # two stores making the file: one epoch
    try:
        conn.execute(SCHEMA)
        upgrade(conn)
        conn.execute(EPOCH_TABLE)
        conn.execute(EPOCH)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("PRAGMA busy_timeout = 0")
    return conn


def upgrade(conn: sqlite3.Connection) -> None:
    """Add the routed columns an inbox made by schema 10 or 11 lacks, and index the routed
    rows by all of them (inside the caller's transaction); the rows already there leave the
    new columns NULL, as they set none of them."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(inbox)")}
    for name, kind in ROUTE_COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE inbox ADD COLUMN {name} {kind}")
    conn.execute(OLD_ROUTED_INDEX)
    conn.execute(ROUTED_INDEX)


class IdBlock:
    """The ids a producer reserved and has not given yet. Changes made inside a
    transaction on `jobs.db` (`reserve`, `release`) count once it commits (`committed`)."""

    def __init__(self) -> None:
        self.next = 0
        self.end = 0
        self._reserved: tuple[int, int] | None = None
        self._releasing = False

    def take(self, n: int) -> list[int] | None:
        """`n` ids, or None if the block has fewer left."""
        if self.end - self.next < n:
            return None
        first = self.next
        self.next += n
        return list(range(first, first + n))

    def give_back(self, ids: list[int]) -> None:
        """`ids` (the last taken) were not used (their append failed): taken again next,
        unless the block was given back or replaced meanwhile (a write on `jobs.db` while
        the append waited): they are then a gap."""
        if ids and self.next == ids[-1] + 1 and self.end > 0:
            self.next = ids[0]

    def release(self, conn: sqlite3.Connection) -> None:
        """Give the unused ids back, inside the caller's transaction on `jobs.db`, if no
        other process reserved after them: the next ids `jobs.db` gives follow this
        process's last job."""
        if self.end > self.next:
            conn.execute(RELEASE, (self.next - 1, self.end - 1))
            self._releasing = True

    def reserve(self, conn: sqlite3.Connection, n: int) -> None:
        """Reserve at least `n` ids, inside the caller's transaction on `jobs.db` (which
        released the block first: the new one starts where the old one was left)."""
        size = max(n, ID_BLOCK)
        top: int = conn.execute(RESERVE, (size,)).fetchone()[0]
        self._reserved = (top - size + 1, top + 1)

    def committed(self) -> None:
        if self._reserved is not None:
            self.next, self.end = self._reserved
        elif self._releasing:
            self.next = self.end = 0
        self._reserved, self._releasing = None, False

    def rolled_back(self) -> None:
        self._reserved, self._releasing = None, False


class Inbox:
    """One store's connections to its inbox, and what it knows of the moves."""

    def __init__(self, directory: str, durability: Durability, busy_timeout_ms: int) -> None:
        self.path = os.path.join(directory, INBOX_FILE)
        self.writer = open_inbox(directory, durability, busy_timeout_ms)
        """Appends and trims."""
        self.reader = open_inbox(directory, durability, busy_timeout_ms)
        """Tells whether anything was appended (`data_version` moves with another
        connection's commit, this store's writer's included)."""
        self.ids = IdBlock()
        self._version = -1
        self._pending = False
        self._moving_to = 0
        """The mark the open transaction on `jobs.db` moved to (0: none)."""
        self._left = False
        """Whether the open transaction's move stopped short of the last row."""
        self.moved = 0
        """The highest mark this store saw committed."""
        self._trimmed = 0

    def version(self) -> int:
        return int(self.reader.execute("PRAGMA data_version").fetchone()[0])

    def pending(self, conn: sqlite3.Connection) -> bool:
        """Whether rows wait to be moved (`conn`: on `jobs.db`, for the mark); no lock.
        Looked up again only after an append or while rows were waiting."""
        version = self.version()
        if version != self._version or self._pending:
            self._version = version
            last = self.reader.execute(LAST_SEQ).fetchone()
            self._pending = last[0] is not None and last[0] > conn.execute(MARK).fetchone()[0]
        return self._pending

    def routed_pending(self, conn: sqlite3.Connection) -> bool:
        """Whether a routed row (one that sets any of `ROUTE_COLUMNS`) waits to be moved
        (`conn`: on `jobs.db`, inside its write transaction)."""
        return self.pending(conn) and bool(conn.execute(ROUTED_PENDING).fetchone()[0])

    def progress(self, conn: sqlite3.Connection) -> tuple[int, int | None]:
        """The mark, and when the first job past it was enqueued (`PROGRESS`; `conn`: on
        `jobs.db`)."""
        mark, oldest = conn.execute(PROGRESS).fetchone()
        return mark, oldest

    def behind(self, conn: sqlite3.Connection, commands: str) -> bool:
        """Whether `jobs.db` holds a ready job the inbox's plain jobs must be weighed with
        (`BEHIND`; `commands`: the claimer's, as JSON), inside the claim's transaction."""
        return bool(conn.execute(BEHIND, {"commands": commands}).fetchone()[0])

    def move(self, conn: sqlite3.Connection, upto: int = ALL) -> None:
        """Move the rows past the mark in, queued, up to `upto` (inside a write transaction
        on `conn`)."""
        params = {"upto": upto}
        conn.execute(MOVE if conn.execute(ROUTED_PENDING).fetchone()[0] else MOVE_PLAIN, params)
        self._moving_to = conn.execute(MOVE_MARK, params).fetchone()[0]
        self._left = upto != ALL

    def start_moved(
        self, conn: sqlite3.Connection, owner: str, commands: str, limit: int, now: int
    ) -> list[Any]:
        """Start the first `limit` due rows of `commands` for `owner` and move the rows
        before the last of them in, queued; the rows past it stay for the next claim. With
        fewer than `limit` to start, or the default queue held by its settings (nothing
        started then), every row is moved. The started rows, for `started_jobs` once the
        transaction has committed (as `claims.PlainClaim`)."""
        if conn.execute(DEFAULT_HELD).fetchone() is not None:
            self.move(conn)
            return []
        params = {"owner": owner, "now": now, "commands": commands, "limit": limit}
        last = conn.execute(UPTO, params).fetchone()
        upto: int = ALL if last is None else last[0]
        rows = conn.execute(START_MOVED, {**params, "upto": upto}).fetchall()
        self.move(conn, upto)
        return rows

    def committed(self) -> bool:
        """After a commit on `jobs.db`: whether enough was moved to trim."""
        self.ids.committed()
        if self._moving_to:
            self.moved = max(self.moved, self._moving_to)
            self._moving_to = 0
            # What arrived since moved `data_version`; rows left past the move are pending.
            self._pending = self._left
            self._left = False
        return self.moved - self._trimmed >= TRIM_EVERY

    def rolled_back(self) -> None:
        self.ids.rolled_back()
        self._moving_to = 0
        self._left = False

    def trim(self, live_path: str) -> None:
        """Delete the moved rows, once `jobs.db`'s WAL holds their move on the disk. Busy:
        left for a later move."""
        if self.moved <= self._trimmed:
            return
        sync_wal(live_path)
        conn = self.writer
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(TRIM, (self.moved,))
            conn.execute("COMMIT")
        except sqlite3.OperationalError:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return
        self._trimmed = self.moved

    def append(self, rows: Sequence[list[Any]], ids: list[int]) -> None:
        """Append `rows` (`row_values`) numbered `ids`, in one transaction."""
        for row, job_id in zip(rows, ids, strict=True):
            row[0] = job_id
        conn = self.writer
        width = max((len(row) for row in rows), default=PLAIN_WIDTH)
        if width > PLAIN_WIDTH:
            statement = APPEND_FLOW if width == FLOW_WIDTH else APPEND_ROUTED
            rows = [row if len(row) == width else [*row, *(None,) * (width - len(row))]
                    for row in rows]  # fmt: skip
        else:
            statement = APPEND
        try:
            if len(rows) == 1:
                # A transaction of its own: one call where BEGIN IMMEDIATE, INSERT and COMMIT
                # were three (~2.3 µs less an awaited enqueue; bench/README, fifteenth pass).
                conn.execute(statement, rows[0])
            else:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(statement, rows)
                conn.execute("COMMIT")
        except BaseException as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(error, sqlite3.DatabaseError) and not is_busy(error):
                raise translate(error, self.path) from None  # the file named: the inbox
            raise

    def close(self) -> None:
        self.writer.close()
        self.reader.close()


def started_jobs(rows: Sequence[Any], owner: str, now: int) -> list[Job]:
    """The jobs of `start_moved`'s rows (`START_MOVED`: a claim's columns, then the
    command; what else a plain claim knows is the same for each)."""
    build = row_module.build_one
    return [build((*row[:-2], row[-1], "", "default", owner, now, now)) for row in rows]


PLAIN_WIDTH = 8
"""Values in a plain job's row (`row_values`); a routed row adds its route: the first
`FLOW_ROUTE_WIDTH` of `ROUTE_COLUMNS`, or all of them."""
FLOW_WIDTH = PLAIN_WIDTH + FLOW_ROUTE_WIDTH
PRIORITY_AT = PLAIN_WIDTH + 1
"""Where a routed row holds its priority (None: 0)."""


def row_values(
    command: str, request_type: str, request_body: str, run_after: int, created: int,
    retry_limit: int | None, timeout_secs: float | None, route: Sequence[Any] = (),
) -> list[Any]:  # fmt: skip
    """A job's inbox row, its id (first) to set; `route`: its values of `ROUTE_COLUMNS`, or
    of their first `FLOW_ROUTE_WIDTH` (empty: a plain job, a row of `PLAIN_WIDTH` values)."""
    row = [0, command, request_type, request_body, run_after, created, retry_limit, timeout_secs]
    if route:
        row += route
    return row


def row_priority(row: Sequence[Any]) -> int:
    """The priority of a row of `row_values`."""
    return (row[PRIORITY_AT] or 0) if len(row) > PLAIN_WIDTH else 0


_datasync = getattr(os, "fdatasync", os.fsync)
"""`fdatasync` where the platform has it (not macOS), else `fsync`."""


def sync_wal(path: str) -> None:
    """fsync `path`'s WAL: the moves committed in it are then on the disk (or, checkpointed
    since, in the database file, which the checkpoint synced)."""
    try:
        fd = os.open(path + "-wal", os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        _datasync(fd)
    finally:
        os.close(fd)
