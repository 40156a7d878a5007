"""DDL and numbered migrations of the live store (`jobs.db`), and the job columns it shares
with the month databases (whose DDL is in `month_schema.py`)."""

from __future__ import annotations

import sqlite3

from jobs_core.errors import SchemaTooNewError, StoreError

JOB_COLUMNS_V1 = """
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    request_type TEXT NOT NULL DEFAULT '',
    request_body TEXT NOT NULL DEFAULT 'null',
    state TEXT NOT NULL,
    worker TEXT NOT NULL DEFAULT '',
    parent_id INTEGER,
    depends_on INTEGER,
    ref_id TEXT,
    tag TEXT,
    callback TEXT,
    batch_id TEXT,
    created_by TEXT,
    user_id TEXT,
    reply_to TEXT,
    run_after INTEGER NOT NULL,
    created_date INTEGER NOT NULL,
    started_date INTEGER,
    completed_date INTEGER,
    notified_date INTEGER,
    last_activity_date INTEGER,
    retry_limit INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    timeout_secs REAL NOT NULL,
    duration_ms INTEGER,
    progress REAL,
    status TEXT,
    logs TEXT NOT NULL DEFAULT '',
    response_type TEXT,
    response_body TEXT,
    error TEXT,
    args TEXT,
    meta TEXT,
    owner TEXT
"""

JOB_COLUMNS_HISTORY = {
    "last_outcome": "TEXT", "notify_error": "TEXT", "dependencies": "TEXT",
    "depends_on_batch": "TEXT", "depends_policy": "TEXT",
}  # fmt: skip
"""Columns of job rows added by the live store's v6 and the month files' v4: how the attempt
that failed or cancelled the job ended, a reply's delivery error, and fan-in."""

JOB_COLUMNS_ADDED = (
    ("logs_truncated", 2, "0"),
    ("queue", 3, "'default'"),
    ("priority", 3, "0"),
    ("expires_at", 3, "NULL"),
    ("concurrency_key", 3, "NULL"),
    ("concurrency_limit", 3, "1"),
    ("unique_key", 3, "NULL"),
    ("retry_policy", 3, "NULL"),
    *((name, 4, "NULL") for name in JOB_COLUMNS_HISTORY),
)
"""Columns migrations added to job rows after v1: (name, the month-file version that added
it, the value a month file of an older version reads as). Selected by name, so a table's
column order does not matter."""

JOB_FIELDS_V1 = [line.split()[0] for line in JOB_COLUMNS_V1.strip().splitlines()]
JOB_FIELDS = [*JOB_FIELDS_V1, *(name for name, _, _ in JOB_COLUMNS_ADDED)]
"""Column names of a full job row, in table order (shared by live and month tables)."""

ATTEMPT_COLUMNS = """
    job_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    number INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    engine TEXT,
    started_date INTEGER,
    ended_date INTEGER NOT NULL,
    duration_ms INTEGER,
    error TEXT,
    progress REAL,
    status TEXT,
    log_end INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
"""
"""An attempt that did not end its job (or a requeue): `seq` orders a job's entries;
`log_end` is the number of log characters ever written to the job when it ended, so its
lines are the job's logs between the previous entry's `log_end` and its own."""

ATTEMPT_FIELDS = [line.split()[0] for line in ATTEMPT_COLUMNS.strip().splitlines()][:-1]

LIVE_V1 = f"""
CREATE TABLE job_summary (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    state TEXT NOT NULL,
    worker TEXT NOT NULL DEFAULT '',
    parent_id INTEGER,
    depends_on INTEGER,
    ref_id TEXT,
    tag TEXT,
    batch_id TEXT,
    created_by TEXT,
    user_id TEXT,
    callback TEXT,
    request_type TEXT NOT NULL DEFAULT '',
    response_type TEXT,
    created_date INTEGER NOT NULL,
    started_date INTEGER,
    completed_date INTEGER,
    duration_ms INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT
);
CREATE UNIQUE INDEX ux_summary_ref_id ON job_summary(ref_id) WHERE ref_id IS NOT NULL;
CREATE INDEX ix_summary_parent ON job_summary(parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX ix_summary_depends ON job_summary(depends_on) WHERE depends_on IS NOT NULL;
CREATE INDEX ix_summary_batch ON job_summary(batch_id, id) WHERE batch_id IS NOT NULL;
CREATE INDEX ix_summary_completed ON job_summary(completed_date) WHERE completed_date IS NOT NULL;

CREATE TABLE background_job (
    {JOB_COLUMNS_V1},
    waiting_on INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_job_claim ON background_job(worker, run_after, id)
    WHERE state = 'queued' AND waiting_on IS NULL;
CREATE INDEX ix_job_state ON background_job(state, id) WHERE state <> 'queued';
CREATE INDEX ix_job_owner ON background_job(owner) WHERE owner IS NOT NULL;
CREATE INDEX ix_job_busy_worker ON background_job(worker) WHERE state = 'started';
CREATE INDEX ix_job_waiting ON background_job(waiting_on) WHERE waiting_on IS NOT NULL;

CREATE TABLE job_count (
    state TEXT PRIMARY KEY,
    n INTEGER NOT NULL
);
INSERT INTO job_count(state, n) VALUES ('completed', 0), ('failed', 0), ('cancelled', 0);

CREATE TABLE job_minute (
    minute INTEGER NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (minute, state)
) WITHOUT ROWID;

CREATE TABLE engine (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    lease_expires_at INTEGER NOT NULL,
    stopped_at INTEGER,
    workers TEXT NOT NULL DEFAULT '[]',
    commands TEXT NOT NULL DEFAULT '[]',
    concurrency INTEGER NOT NULL DEFAULT 0,
    running INTEGER NOT NULL DEFAULT 0,
    processed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE scheduled_task (
    name TEXT PRIMARY KEY,
    schedule TEXT NOT NULL,
    command TEXT NOT NULL,
    request_type TEXT NOT NULL DEFAULT '',
    request_body TEXT NOT NULL DEFAULT 'null',
    options TEXT NOT NULL DEFAULT '{{}}',
    missed_policy TEXT NOT NULL DEFAULT 'run_once',
    max_catch_up INTEGER NOT NULL DEFAULT 100,
    paused INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    next_run_at INTEGER,
    last_run_at INTEGER,
    last_job_id INTEGER,
    run_now_requested INTEGER NOT NULL DEFAULT 0,
    revision INTEGER NOT NULL DEFAULT 0
);
"""

LIVE_V2 = """
ALTER TABLE background_job ADD COLUMN logs_truncated INTEGER NOT NULL DEFAULT 0;

CREATE TABLE job_batch (
    batch_id TEXT PRIMARY KEY,
    state TEXT NOT NULL DEFAULT 'open',
    created_at INTEGER NOT NULL,
    cancelled_at INTEGER,
    cancel_reason TEXT
);

CREATE TABLE job_command (
    name TEXT PRIMARY KEY,
    worker TEXT NOT NULL DEFAULT '',
    retry_limit INTEGER,
    timeout_secs REAL,
    request_type TEXT NOT NULL DEFAULT '',
    request_shape TEXT,
    declared_by TEXT NOT NULL,
    declared_at INTEGER NOT NULL
);
"""
"""v2: `logs_truncated` on job rows; `job_batch` (batches and whether they are cancelled);
`job_command` (commands as the engines that run them declared them)."""

LIVE_V3 = """
ALTER TABLE engine ADD COLUMN lost_reason TEXT;
"""
"""v3: why a live engine declared this one dead (its process gone from their shared host), so
every reader, on any host, sees it dead at once rather than when its lease lapses."""

LIVE_V4 = """
CREATE TABLE job_id_floor (
    max_id INTEGER NOT NULL
);
INSERT INTO job_id_floor (max_id) VALUES (0);

CREATE TABLE command_minute (
    minute INTEGER NOT NULL,
    command TEXT NOT NULL,
    state TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    total_ms INTEGER NOT NULL,
    PRIMARY KEY (minute, command, state, bucket)
) WITHOUT ROWID;
"""
"""v4: deleting jobs (ids stay unique after the newest is deleted: `job_id_floor` keeps the
largest deleted id) and per-command figures (`command_minute`: jobs finished per minute, per
command and state, in duration buckets)."""

LIVE_V5 = """
ALTER TABLE background_job ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
ALTER TABLE background_job ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE background_job ADD COLUMN expires_at INTEGER;
ALTER TABLE background_job ADD COLUMN concurrency_key TEXT;
ALTER TABLE background_job ADD COLUMN concurrency_limit INTEGER NOT NULL DEFAULT 1;
ALTER TABLE background_job ADD COLUMN unique_key TEXT;
ALTER TABLE background_job ADD COLUMN retry_policy TEXT;
ALTER TABLE background_job ADD COLUMN key_parked INTEGER NOT NULL DEFAULT 0;
UPDATE background_job SET queue = worker WHERE worker <> '';
DROP INDEX ix_job_claim;
CREATE INDEX ix_job_ready ON background_job(worker, queue, priority DESC, run_after, id)
    WHERE state = 'queued' AND waiting_on IS NULL AND key_parked = 0;
DROP INDEX ix_job_busy_worker;
CREATE INDEX ix_job_running ON background_job(queue) WHERE state = 'started';
CREATE INDEX ix_job_key_running ON background_job(concurrency_key)
    WHERE state = 'started' AND concurrency_key IS NOT NULL;
CREATE INDEX ix_job_key_ready ON background_job(concurrency_key)
    WHERE state = 'queued' AND concurrency_key IS NOT NULL AND waiting_on IS NULL
      AND key_parked = 0;
CREATE INDEX ix_job_key_parked ON background_job(concurrency_key, priority DESC, run_after, id)
    WHERE key_parked = 1 AND state = 'queued';
CREATE INDEX ix_job_expires ON background_job(expires_at)
    WHERE state = 'queued' AND expires_at IS NOT NULL;
CREATE UNIQUE INDEX ux_job_unique ON background_job(unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('queued', 'started');

CREATE TABLE job_queue (
    name TEXT PRIMARY KEY,
    concurrency INTEGER,
    paused INTEGER NOT NULL DEFAULT 0,
    rate_limit INTEGER,
    rate_per_ms INTEGER,
    updated_at INTEGER NOT NULL
);

CREATE TABLE queue_start (
    queue TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    n INTEGER NOT NULL
);
CREATE INDEX ix_queue_start ON queue_start(queue, started_at);

CREATE TABLE queue_minute (
    queue TEXT NOT NULL,
    minute INTEGER NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (queue, minute, state)
) WITHOUT ROWID;

ALTER TABLE job_command ADD COLUMN flow TEXT;
"""
"""v5, flow control: a job's queue (a named worker's jobs are in the queue of its name),
priority, expiry, concurrency key and limit, unique key, retry policy, and `key_parked` (a
job whose key was at its limit when a claim looked; the finish of a job with that key lets
the next ones back). `job_queue`: what operators set on queues (concurrency, pause, rate
limit); `queue_start`: the starts of rate-limited queues within their window;
`queue_minute`: finished jobs per queue and minute; `job_command.flow`: a declared
command's flow options (JSON)."""

LIVE_V6 = "\n".join(
    [
        *(
            f"ALTER TABLE background_job ADD COLUMN {n} {k};"
            for n, k in JOB_COLUMNS_HISTORY.items()
        ),
        f"CREATE TABLE job_attempt ({ATTEMPT_COLUMNS}) WITHOUT ROWID;",
        """
DROP INDEX IF EXISTS ix_job_owner;

CREATE TABLE job_dependency (
    parent_id INTEGER NOT NULL,
    child_id INTEGER NOT NULL,
    PRIMARY KEY (parent_id, child_id)
) WITHOUT ROWID;
CREATE INDEX ix_dependency_child ON job_dependency(child_id);

ALTER TABLE job_batch ADD COLUMN number INTEGER;
UPDATE job_batch SET number = rowid;
CREATE UNIQUE INDEX ux_batch_number ON job_batch(number);
ALTER TABLE job_batch ADD COLUMN name TEXT;
ALTER TABLE job_batch ADD COLUMN on_complete TEXT;
ALTER TABLE job_batch ADD COLUMN on_success TEXT;
ALTER TABLE job_batch ADD COLUMN meta TEXT;
ALTER TABLE job_batch ADD COLUMN declared_total INTEGER;
ALTER TABLE job_batch ADD COLUMN joined INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_batch ADD COLUMN completed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_batch ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_batch ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_batch ADD COLUMN closed_at INTEGER;
ALTER TABLE job_batch ADD COLUMN finished_at INTEGER;
ALTER TABLE job_batch ADD COLUMN callback_ids TEXT;
UPDATE job_batch SET
    joined = (SELECT count(*) FROM job_summary s WHERE s.batch_id = job_batch.batch_id),
    completed = (SELECT count(*) FROM job_summary s
                 WHERE s.batch_id = job_batch.batch_id AND s.state = 'completed'),
    failed = (SELECT count(*) FROM job_summary s
              WHERE s.batch_id = job_batch.batch_id AND s.state = 'failed'),
    cancelled = (SELECT count(*) FROM job_summary s
                 WHERE s.batch_id = job_batch.batch_id AND s.state = 'cancelled');

ALTER TABLE scheduled_task ADD COLUMN overlap TEXT NOT NULL DEFAULT 'skip';
ALTER TABLE scheduled_task ADD COLUMN start_at INTEGER;
ALTER TABLE scheduled_task ADD COLUMN end_at INTEGER;
ALTER TABLE scheduled_task ADD COLUMN max_runs INTEGER;
ALTER TABLE scheduled_task ADD COLUMN run_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scheduled_task ADD COLUMN ended_at INTEGER;

CREATE TABLE job_maintenance (
    name TEXT PRIMARY KEY,
    next_at INTEGER NOT NULL
);
""",
    ]
)
"""v6: attempt history (`job_attempt`; the attempt that ended a job stays in its row, whose
`owner` now stays set once the job ended, and `last_outcome`), a reply's delivery error,
fan-in (`job_dependency` and the job's `dependencies`, `depends_on_batch`,
`depends_policy`), batch records (name, callbacks,
counters, declared total, close and finish times), overlap and bounds of scheduled tasks, and
`job_maintenance` (which engine runs retention next)."""

LIVE_V7 = """
DROP INDEX ix_job_ready;
CREATE INDEX ix_job_ready ON background_job(worker, queue, command, priority DESC, run_after, id)
    WHERE state = 'queued' AND waiting_on IS NULL AND key_parked = 0;
"""
"""v7: the ready index by command after queue, so a claim reads only the jobs of the commands
its engine runs (one range each) and never steps over a backlog of another command's jobs."""

LIVE_V8 = """
DELETE FROM job_summary WHERE id IN (SELECT id FROM background_job);
CREATE UNIQUE INDEX ux_job_ref_id ON background_job(ref_id) WHERE ref_id IS NOT NULL;
CREATE INDEX ix_job_parent ON background_job(parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX ix_job_depends ON background_job(depends_on) WHERE depends_on IS NOT NULL;
CREATE INDEX ix_job_batch ON background_job(batch_id, id) WHERE batch_id IS NOT NULL;
"""
"""v8: `job_summary` holds archived jobs only (a live job's summary is read from its row,
`summaries.py`; the archive writes it when it removes the row), so an enqueue writes one row;
the live table gets the summary's lookups by ref_id, parent, dependency and batch."""

LIVE_V9 = """
DROP INDEX ix_job_key_ready;
CREATE INDEX ix_job_key_ready ON background_job(key_parked)
    WHERE state = 'queued' AND concurrency_key IS NOT NULL AND waiting_on IS NULL
      AND key_parked = 0;
"""
"""v9: the index of ready keyed jobs in id order (its one column is 0 under its WHERE), not
by key. Only a claim's first statement reads it, for whether any keyed job is ready; by key,
each keyed job enqueued and claimed wrote an entry at its key's place (2,000 users' keys:
a leaf page of its own for most), in id order a batch's keyed jobs are appended together
and a claim's are taken from the front: the mixed workload's pages of this index a 100
jobs, enqueue 0.92 → 0.65 and claim 3.26 → 1.27 (bench/README.md, issue 10's eleventh
pass)."""

LIVE_V10 = """
CREATE TABLE inbox_mark (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL,
    epoch TEXT
);
INSERT INTO inbox_mark (one, seq) VALUES (1, 0);
"""
"""v10: the mark of the inbox (`inbox.py`): every row of `jobs.inbox` up to `seq` is in
`background_job` (or was, and is archived since), if the inbox is the file of `epoch`."""

LIVE_V11 = ""
"""v11: no change to `jobs.db`; the inbox's rows may carry a queue, priority, concurrency key,
expiry, retry policy, tag and meta (`inbox.ROUTE_COLUMNS`, added to the inbox file as a store
opens it). A version that moves only plain rows would drop those, so it must not open the
store: it refuses a newer schema."""

LIVE_V12 = ""
"""v12: no change to `jobs.db`; the inbox's rows may also carry a callback, creator, user,
`reply_to` and args (the last five of `inbox.ROUTE_COLUMNS`), and its routed rows are indexed
as `inbox.ROUTED_INDEX_NAME`. A version of schema 11 would move a row that sets only those
as a plain job, without them: it refuses the store, and one already running when the inbox
is upgraded fails at its next move (`inbox.ROUTED_INDEX`)."""

LIVE_MIGRATIONS: list[str] = [
    LIVE_V1, LIVE_V2, LIVE_V3, LIVE_V4, LIVE_V5, LIVE_V6, LIVE_V7, LIVE_V8, LIVE_V9, LIVE_V10,
    LIVE_V11, LIVE_V12,
]  # fmt: skip
"""Migration N (1-based) brings `PRAGMA user_version` from N-1 to N."""

LATEST_VERSION = len(LIVE_MIGRATIONS)


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the live store at `path` to the latest schema, or refuse a newer one."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    _refuse_newer(version, path)
    if version == 0 and _has_foreign_tables(conn):
        raise StoreError(f"{path} is an SQLite database but not a jobs store")
    for number in range(version + 1, LATEST_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                conn.execute("ROLLBACK")
                continue
            for statement in _split(LIVE_MIGRATIONS[number - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def check_version(conn: sqlite3.Connection, path: str) -> None:
    """Refuse a store a read-only open cannot use: not a store, older or newer schema."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    _refuse_newer(version, path)
    if version == 0:
        raise StoreError(f"{path} is not a jobs store (no schema); a read-only open creates none")
    if version < LATEST_VERSION:
        raise StoreError(
            f"{path} has schema version {version}; this version of jobs needs {LATEST_VERSION} "
            "and a read-only open does not migrate: open it once without read-only to upgrade"
        )


def _refuse_newer(version: int, path: str) -> None:
    if version > LATEST_VERSION:
        raise SchemaTooNewError(
            f"{path} has schema version {version}, newer than this version of jobs "
            f"understands ({LATEST_VERSION}); upgrade jobs to open it"
        )


def _has_foreign_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    return bool(row[0])


def _split(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]
