"""DDL and numbered migrations of a PostgreSQL store (applied by `migrate.py`)."""

from __future__ import annotations

from jobs_core.flow import MAX_ROUNDS

from .claim_sql import claim_locked_function
from .finish_sql import finish_function
from .functions_sql import CAP_LOGS, LOG_END
from .search_sql import SEARCH_VECTOR

JOB_COLUMNS = """
    id bigint NOT NULL,
    command text NOT NULL,
    request_type text NOT NULL DEFAULT '',
    request_body text NOT NULL DEFAULT 'null',
    state text NOT NULL,
    worker text NOT NULL DEFAULT '',
    parent_id bigint,
    depends_on bigint,
    ref_id text,
    tag text,
    callback text,
    batch_id text,
    created_by text,
    user_id text,
    reply_to text,
    run_after bigint NOT NULL,
    created_date bigint NOT NULL,
    started_date bigint,
    completed_date bigint,
    notified_date bigint,
    last_activity_date bigint,
    retry_limit integer NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    timeout_secs double precision NOT NULL,
    duration_ms bigint,
    progress double precision,
    status text,
    logs text NOT NULL DEFAULT '',
    logs_truncated boolean NOT NULL DEFAULT false,
    response_type text,
    response_body text,
    error jsonb,
    args jsonb,
    meta jsonb,
    owner text
"""

FLOW_COLUMNS = """
    queue text NOT NULL DEFAULT 'default',
    priority integer NOT NULL DEFAULT 0,
    expires_at bigint,
    concurrency_key text,
    concurrency_limit integer NOT NULL DEFAULT 1,
    unique_key text,
    retry_policy text
"""
"""Job columns added by migration 2 (flow control), on the live and the archive tables."""

JOB_FIELDS_V1 = [line.split()[0] for line in JOB_COLUMNS.strip().splitlines()]
"""The job columns of schema version 1."""

JOB_COLUMNS_V3 = {
    "last_outcome": "text", "notify_error": "text", "dependencies": "jsonb",
    "depends_on_batch": "text", "depends_policy": "text",
}  # fmt: skip
"""Columns migration 3 adds to job rows (live and archived): how the attempt that failed or
cancelled the job ended, a reply's delivery error, and fan-in."""

JOB_FIELDS = [
    *JOB_FIELDS_V1,
    *(line.split()[0] for line in FLOW_COLUMNS.strip().splitlines()),
    *JOB_COLUMNS_V3,
]
"""Column names of a full job row, in table order (shared by the live and archive tables)."""

ATTEMPT_COLUMNS = """
    job_id bigint NOT NULL,
    seq integer NOT NULL,
    number integer NOT NULL,
    outcome text NOT NULL,
    engine text,
    started_date bigint,
    ended_date bigint NOT NULL,
    duration_ms bigint,
    error jsonb,
    progress double precision,
    status text,
    log_end bigint NOT NULL
"""
"""An attempt that did not end its job, or a requeue (see `jobs_core.history`)."""

ATTEMPT_FIELDS = [line.split()[0] for line in ATTEMPT_COLUMNS.strip().splitlines()]

ARCHIVE_INDEXES = {
    "completed_job": ("command", "tag", "batch_id", "created_by", "user_id", "ref_id"),
    "failed_job": ("command", "tag", "batch_id", "created_by", "user_id", "ref_id", "state"),
}
"""Columns the admin filters a month by; each gets an index (column, id), partial on NOT NULL
for the optional ones so that jobs without a tag or batch cost no index entry."""

ALWAYS_SET = frozenset({"command", "state"})

V1 = f"""
CREATE SEQUENCE job_id_seq;

CREATE TABLE job_summary (
    id bigint PRIMARY KEY,
    command text NOT NULL,
    state text NOT NULL,
    worker text NOT NULL DEFAULT '',
    parent_id bigint,
    depends_on bigint,
    ref_id text,
    tag text,
    batch_id text,
    created_by text,
    user_id text,
    callback text,
    request_type text NOT NULL DEFAULT '',
    response_type text,
    created_date bigint NOT NULL,
    started_date bigint,
    completed_date bigint,
    duration_ms bigint,
    attempts integer NOT NULL DEFAULT 0,
    error_code text,
    error_message text
) WITH (fillfactor = 50);
-- Half-full pages: a summary is updated twice (claim, finish) on columns no index holds, so
-- both updates stay in the page (HOT) and touch no index.
CREATE UNIQUE INDEX ux_summary_ref_id ON job_summary (ref_id) WHERE ref_id IS NOT NULL;
CREATE INDEX ix_summary_depends ON job_summary (depends_on) WHERE depends_on IS NOT NULL;
CREATE INDEX ix_summary_parent ON job_summary (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX ix_summary_batch ON job_summary (batch_id, id) WHERE batch_id IS NOT NULL;

CREATE TABLE background_job (
    {JOB_COLUMNS},
    waiting_on bigint,
    cancel_requested boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id)
);
CREATE INDEX ix_job_claim ON background_job (worker, run_after, id)
    WHERE state = 'queued' AND waiting_on IS NULL;
CREATE INDEX ix_job_state ON background_job (state, id) WHERE state <> 'queued';
CREATE INDEX ix_job_waiting ON background_job (waiting_on) WHERE waiting_on IS NOT NULL;
CREATE INDEX ix_job_parent ON background_job (parent_id) WHERE parent_id IS NOT NULL;
-- The named-worker rule (one started job per named worker) held by the database itself.
CREATE UNIQUE INDEX ux_job_one_started_per_worker ON background_job (worker)
    WHERE state = 'started' AND worker <> '';

CREATE TABLE completed_job ({JOB_COLUMNS}, PRIMARY KEY (id, completed_date))
    PARTITION BY RANGE (completed_date);
CREATE TABLE failed_job ({JOB_COLUMNS}, PRIMARY KEY (id, completed_date))
    PARTITION BY RANGE (completed_date);

CREATE TABLE job_count (
    state text PRIMARY KEY,
    n bigint NOT NULL
);
INSERT INTO job_count (state, n) VALUES ('cancelled', 0), ('completed', 0), ('failed', 0);

CREATE TABLE job_minute (
    minute bigint NOT NULL,
    state text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (minute, state)
);

CREATE TABLE engine (
    id text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at bigint NOT NULL,
    heartbeat_at bigint NOT NULL,
    lease_expires_at bigint NOT NULL,
    stopped_at bigint,
    workers jsonb NOT NULL DEFAULT '[]',
    commands jsonb NOT NULL DEFAULT '[]',
    concurrency integer NOT NULL DEFAULT 0,
    running integer NOT NULL DEFAULT 0,
    processed bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    lost_reason text
);

CREATE TABLE command_minute (
    minute bigint NOT NULL,
    command text NOT NULL,
    state text NOT NULL,
    bucket integer NOT NULL,
    n bigint NOT NULL,
    total_ms bigint NOT NULL,
    PRIMARY KEY (minute, command, state, bucket)
);

CREATE TABLE job_batch (
    batch_id text PRIMARY KEY,
    state text NOT NULL DEFAULT 'open',
    created_at bigint NOT NULL,
    cancelled_at bigint,
    cancel_reason text
);

CREATE TABLE job_command (
    name text PRIMARY KEY,
    worker text NOT NULL DEFAULT '',
    retry_limit integer,
    timeout_secs double precision,
    request_type text NOT NULL DEFAULT '',
    request_shape jsonb,
    declared_by text NOT NULL,
    declared_at bigint NOT NULL
);

CREATE TABLE scheduled_task (
    name text PRIMARY KEY,
    schedule text NOT NULL,
    command text NOT NULL,
    request_type text NOT NULL DEFAULT '',
    request_body text NOT NULL DEFAULT 'null',
    options jsonb NOT NULL DEFAULT '{{}}',
    missed_policy text NOT NULL DEFAULT 'run_once',
    max_catch_up integer NOT NULL DEFAULT 100,
    paused boolean NOT NULL DEFAULT false,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    next_run_at bigint,
    last_run_at bigint,
    last_job_id bigint,
    run_now_requested boolean NOT NULL DEFAULT false,
    revision integer NOT NULL DEFAULT 0
);
"""


def _archive_indexes() -> str:
    statements: list[str] = []
    for table, columns in ARCHIVE_INDEXES.items():
        for column in columns:
            partial = "" if column in ALWAYS_SET else f" WHERE {column} IS NOT NULL"
            statements.append(
                f"CREATE INDEX ix_{table}_{column} ON {table} ({column}, id){partial};"
            )
    return "\n".join(statements)


def _add_flow_columns(table: str) -> str:
    lines = FLOW_COLUMNS.strip().splitlines()
    added = ", ".join(f"ADD COLUMN {line.strip().rstrip(',')}" for line in lines)
    return f"ALTER TABLE {table} {added};"


V2 = f"""
{_add_flow_columns("background_job")}
{_add_flow_columns("completed_job")}
{_add_flow_columns("failed_job")}
ALTER TABLE background_job ADD COLUMN key_parked boolean NOT NULL DEFAULT false;
UPDATE background_job SET queue = worker WHERE worker <> '';
DROP INDEX ix_job_claim;
CREATE INDEX ix_job_ready ON background_job (worker, queue, priority DESC, run_after, id)
    WHERE state = 'queued' AND waiting_on IS NULL AND NOT key_parked;
CREATE INDEX ix_job_running ON background_job (queue) WHERE state = 'started';
CREATE INDEX ix_job_key_running ON background_job (concurrency_key)
    WHERE state = 'started' AND concurrency_key IS NOT NULL;
CREATE INDEX ix_job_key_ready ON background_job (concurrency_key)
    WHERE state = 'queued' AND concurrency_key IS NOT NULL AND waiting_on IS NULL
      AND NOT key_parked;
CREATE INDEX ix_job_key_parked ON background_job (concurrency_key, priority DESC, run_after, id)
    WHERE key_parked AND state = 'queued';
CREATE INDEX ix_job_expires ON background_job (expires_at)
    WHERE state = 'queued' AND expires_at IS NOT NULL;
CREATE UNIQUE INDEX ux_job_unique ON background_job (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('queued', 'started');
CREATE INDEX ix_completed_job_queue ON completed_job (queue, id);
CREATE INDEX ix_failed_job_queue ON failed_job (queue, id);

CREATE TABLE job_queue (
    name text PRIMARY KEY,
    concurrency integer,
    paused boolean NOT NULL DEFAULT false,
    rate_limit integer,
    rate_per_ms bigint,
    updated_at bigint NOT NULL
);

CREATE TABLE queue_start (
    queue text NOT NULL,
    started_at bigint NOT NULL,
    n integer NOT NULL
);
CREATE INDEX ix_queue_start ON queue_start (queue, started_at);

CREATE TABLE queue_minute (
    queue text NOT NULL,
    minute bigint NOT NULL,
    state text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (queue, minute, state)
);

ALTER TABLE job_command ADD COLUMN flow text;
"""
"""Migration 2, flow control (as the SQLite store's v4): a job's queue (a named worker's jobs
are in the queue of its name), priority, expiry, concurrency key and limit, unique key and
retry policy, on live and archived rows; `key_parked` on live rows (a job whose key was at its
limit when a claim looked, out of the ready index until a job with its key finishes);
`job_queue` (operators' queue settings), `queue_start` (starts of rate-limited queues within
their window), `queue_minute` (finished jobs per queue and minute), `job_command.flow`.
(Its `finish_jobs` is now created by migration 3.)"""


V3 = "\n".join(
    [
        *(
            f"ALTER TABLE {t} ADD COLUMN {n} {k};"
            for t in ("background_job", "completed_job", "failed_job")
            for n, k in JOB_COLUMNS_V3.items()
        ),
        *(
            f"ALTER TABLE {t} ADD COLUMN search tsvector "
            f"GENERATED ALWAYS AS ({SEARCH_VECTOR}) STORED;"
            f"CREATE INDEX ix_{t}_search ON {t} USING gin (search);"
            for t in ("completed_job", "failed_job")
        ),
        f"CREATE TABLE job_attempt ({ATTEMPT_COLUMNS}, PRIMARY KEY (job_id, seq));",
        f"""CREATE TABLE archived_attempt ({ATTEMPT_COLUMNS}, completed_date bigint NOT NULL,
            PRIMARY KEY (job_id, seq, completed_date)) PARTITION BY RANGE (completed_date);""",
        """
CREATE TABLE job_dependency (
    parent_id bigint NOT NULL,
    child_id bigint NOT NULL,
    PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX ix_dependency_child ON job_dependency (child_id);

ALTER TABLE job_batch ADD COLUMN number bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX ux_batch_number ON job_batch (number);
ALTER TABLE job_batch ADD COLUMN name text;
ALTER TABLE job_batch ADD COLUMN on_complete jsonb;
ALTER TABLE job_batch ADD COLUMN on_success jsonb;
ALTER TABLE job_batch ADD COLUMN meta jsonb;
ALTER TABLE job_batch ADD COLUMN declared_total integer;
ALTER TABLE job_batch ADD COLUMN joined bigint NOT NULL DEFAULT 0;
ALTER TABLE job_batch ADD COLUMN completed bigint NOT NULL DEFAULT 0;
ALTER TABLE job_batch ADD COLUMN failed bigint NOT NULL DEFAULT 0;
ALTER TABLE job_batch ADD COLUMN cancelled bigint NOT NULL DEFAULT 0;
ALTER TABLE job_batch ADD COLUMN closed_at bigint;
ALTER TABLE job_batch ADD COLUMN finished_at bigint;
ALTER TABLE job_batch ADD COLUMN callback_ids jsonb;
UPDATE job_batch j SET
    joined = (SELECT count(*) FROM job_summary s WHERE s.batch_id = j.batch_id),
    completed = (SELECT count(*) FROM job_summary s
                 WHERE s.batch_id = j.batch_id AND s.state = 'completed'),
    failed = (SELECT count(*) FROM job_summary s
              WHERE s.batch_id = j.batch_id AND s.state = 'failed'),
    cancelled = (SELECT count(*) FROM job_summary s
                 WHERE s.batch_id = j.batch_id AND s.state = 'cancelled');

ALTER TABLE scheduled_task ADD COLUMN overlap text NOT NULL DEFAULT 'skip';
ALTER TABLE scheduled_task ADD COLUMN start_at bigint;
ALTER TABLE scheduled_task ADD COLUMN end_at bigint;
ALTER TABLE scheduled_task ADD COLUMN max_runs integer;
ALTER TABLE scheduled_task ADD COLUMN run_count integer NOT NULL DEFAULT 0;
ALTER TABLE scheduled_task ADD COLUMN ended_at bigint;

CREATE TABLE job_maintenance (
    name text PRIMARY KEY,
    next_at bigint NOT NULL
);
""",
        LOG_END,
        # Created by the last migration that changes it: a store made by an earlier version
        # has the function of migrations 1 and 2 (another signature) to drop first.
        "DROP FUNCTION IF EXISTS finish_jobs;",
        finish_function(JOB_FIELDS),
    ]
)
"""Migration 3: attempt history (`job_attempt`, moved to `archived_attempt`'s month partition with
its job), fan-in (`job_dependency`, the job's `dependencies`, `depends_on_batch`,
`depends_policy`), batch records (callbacks, counters, declared total), a reply's delivery
error, overlap and bounds of scheduled tasks, `job_maintenance` (which engine runs retention
next), the archive's full-text index (a generated tsvector with a GIN index), and
`finish_jobs` (finish_sql.py)."""


def column_types() -> dict[str, str]:
    """Each job column's type, as the DDL above declares it."""
    lines = [*JOB_COLUMNS.strip().splitlines(), *FLOW_COLUMNS.strip().splitlines()]
    types: dict[str, str] = {}
    for line in lines:
        name, rest = line.strip().rstrip(",").split(None, 1)
        types[name] = rest.split(" NOT NULL")[0].split(" DEFAULT")[0]
    return {**types, **JOB_COLUMNS_V3}


V4 = f"""
DROP INDEX ix_job_ready;
CREATE INDEX ix_job_ready ON background_job (worker, queue, command, priority DESC, run_after, id)
    WHERE state = 'queued' AND waiting_on IS NULL AND NOT key_parked;
{claim_locked_function(column_types(), JOB_FIELDS, MAX_ROUNDS)}
DROP FUNCTION IF EXISTS finish_jobs;
{finish_function(JOB_FIELDS)}"""
"""Migration 4 (as the SQLite store's v7): the ready index by command after queue, so a claim
reads only the jobs of the commands its engine runs (one range each) and never steps over a
backlog of another command's jobs; `claim_locked`, the claim under the store's claim lock in
one statement (claim_sql.py); `finish_jobs` again (a retried attempt's log end read without
regular expressions unless the log cap's marker is there)."""

V5 = f"""
CREATE INDEX ix_job_batch ON background_job (id) WHERE batch_id IS NOT NULL;
DROP INDEX ix_job_running;
DROP INDEX ix_job_state;
CREATE INDEX ix_job_state ON background_job (state, queue, id) WHERE state <> 'queued';
DROP FUNCTION IF EXISTS finish_jobs;
{finish_function(JOB_FIELDS)}"""
"""Migration 5: `ix_job_batch`, the live jobs in a batch, which `finish_jobs` probes (instead
of every finished job's row) to learn whether a batch needs the caller's transaction;
`ix_job_state` by state, queue and id, which also counts a queue's running jobs, in place
of `ix_job_running` (a claim writes an index entry fewer a job); and `finish_jobs` again
(its arrays may be `arrays.packed`: one element for a value every job of the call
shares)."""

V6 = f"""
DROP FUNCTION claim_locked;
{claim_locked_function(column_types(), JOB_FIELDS, MAX_ROUNDS)}
DROP FUNCTION IF EXISTS finish_jobs;
{finish_function(JOB_FIELDS)}"""
"""Migration 6: `claim_locked` again, its rounds returned by RETURN QUERY instead of a loop
over the rows (what a round did read from a setting the round leaves, claim_sql.py), and
`finish_jobs` again (keys' parked jobs probed only when some job is parked)."""

V7 = f"""
DELETE FROM job_summary s USING background_job b WHERE s.id = b.id;
CREATE UNIQUE INDEX ux_job_ref_id ON background_job (ref_id) WHERE ref_id IS NOT NULL;
CREATE INDEX ix_job_depends ON background_job (depends_on) WHERE depends_on IS NOT NULL;
CREATE INDEX ix_job_batch_id ON background_job (batch_id, id) WHERE batch_id IS NOT NULL;
ALTER TABLE job_summary SET (fillfactor = 100);
DROP FUNCTION IF EXISTS finish_jobs;
{finish_function(JOB_FIELDS)}"""
"""Migration 7 (as the SQLite store's v8): summaries written at archive. A job is in exactly
one of `background_job` (live, its row its summary) and `job_summary` (archived): the
summaries of live jobs are deleted, `background_job` gets the lookups the summary had (a
unique ref_id, so a ref_id stays unique across live and archived jobs with the summary's
own unique index and `conflicts.check_archived`; `depends_on`; `(batch_id, id)`; it had
`parent_id`), summaries are no longer updated in place (full pages), and `finish_jobs`
inserts the summaries of the jobs it archives instead of updating them."""

V8 = f"""
DROP FUNCTION claim_locked;
{claim_locked_function(column_types(), JOB_FIELDS, MAX_ROUNDS)}"""
"""Migration 8: `claim_locked` again, with an eighth argument: the claiming engine's jobs
whose handlers ended and whose outcomes are not yet committed, left out of its queues' and
keys' running counts (then a CTE, now `claim_sql.NOT_MINE`)."""

V9 = f"""
ALTER TABLE completed_job ALTER COLUMN search DROP EXPRESSION;
ALTER TABLE failed_job ALTER COLUMN search DROP EXPRESSION;
DROP FUNCTION IF EXISTS finish_jobs;
{finish_function(JOB_FIELDS)}"""
"""Migration 9: the archive's `search` an ordinary column, which the statements that insert
archived rows compute (search_sql.py: a generated column's expression was read again from
the catalogue at every INSERT); `finish_jobs` again (it writes `search`; its statements for
retried and failed jobs run only when a call has such a transition; a call of one transition
reads it as scalars, without the arrays' `unnest`; one statement counts, tallies finishes
per queue and notifies)."""

SUMMARY_LOOKUPS = {"parent_id": "parent", "depends_on": "depends"}
"""Columns `job_summary` had an index on that the month partitions get (by id, ref_id and
batch_id they have one already)."""

V10 = "\n".join(
    [
        """
WITH orphans AS (
    SELECT s.id, s.state FROM job_summary s
    WHERE NOT EXISTS (SELECT 1 FROM completed_job c WHERE c.id = s.id)
      AND NOT EXISTS (SELECT 1 FROM failed_job f WHERE f.id = s.id)
      AND NOT EXISTS (SELECT 1 FROM background_job b WHERE b.id = s.id)
), edges AS (
    DELETE FROM job_dependency d
    WHERE EXISTS (SELECT 1 FROM orphans o WHERE o.id IN (d.child_id, d.parent_id))
)
UPDATE job_count c SET n = greatest(0, c.n - o.n)
FROM (SELECT state, count(*) AS n FROM orphans GROUP BY state) AS o WHERE c.state = o.state;
CREATE TABLE job_ref (ref_id text PRIMARY KEY, id bigint NOT NULL);
INSERT INTO job_ref (ref_id, id)
SELECT s.ref_id, s.id FROM job_summary s
WHERE s.ref_id IS NOT NULL AND (EXISTS (SELECT 1 FROM completed_job c WHERE c.id = s.id)
                                OR EXISTS (SELECT 1 FROM failed_job f WHERE f.id = s.id));
DROP TABLE job_summary;""",
        *(
            f"CREATE INDEX ix_{t}_{name} ON {t} ({column}) WHERE {column} IS NOT NULL;"
            for t in ("completed_job", "failed_job")
            for column, name in SUMMARY_LOOKUPS.items()
        ),
        "DROP FUNCTION IF EXISTS finish_jobs;",
        finish_function(JOB_FIELDS),
    ]
)
"""Migration 10: no summary kept apart for archived jobs. An archived job's summary is read
from its row in its month's partition, which has every column (summaries.py), so
`job_summary` goes, and the partitions get the lookups it had that they lacked (`parent_id`,
`depends_on`); an archived job's ref_id goes into `job_ref` (its primary key: one probe to
find it, and no second archived holder, as `job_summary`'s unique index did). A summary
whose archived row was gone (its month dropped by hand) goes with it: its job leaves the
counts by state, and the dependency edges naming it go (as a purge does). `finish_jobs`
again, writing `job_ref` instead of the summary."""

V11 = f"""
DROP FUNCTION claim_locked;
{claim_locked_function(column_types(), JOB_FIELDS, MAX_ROUNDS)}"""
"""Migration 11: `claim_locked` again, each queue's part of a round sized by what the other
queues' allowances leave (`claim_sql.SHARE`), so that a queue at its limit no longer costs
the claim a second round."""

V12 = f"""
DROP FUNCTION claim_locked;
{claim_locked_function(column_types(), JOB_FIELDS, MAX_ROUNDS)}"""
"""Migration 12 (the flow claim's ended jobs hashed): `claim_locked` again, the claiming
engine's ended jobs left out of the running counts by a hash of their ids tested on the
started rows those counts read (`claim_sql.NOT_MINE`), instead of each looked up by primary
key."""

MIGRATIONS: list[str] = [
    V1 + _archive_indexes() + CAP_LOGS, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12,
]  # fmt: skip
"""Migration N (1-based) brings the version in `schema_version` from N-1 to N."""

LATEST_VERSION = len(MIGRATIONS)
