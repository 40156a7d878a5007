"""DDL and numbered migrations of a PostgreSQL store, applied under an advisory lock."""

from __future__ import annotations

from jobs_core.errors import SchemaTooNewError, StoreError, StoreNotFoundError

from .connection import Conn
from .finish_sql import finish_function

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

JOB_COLUMNS_V2 = {
    "last_outcome": "text", "notify_error": "text", "dependencies": "jsonb",
    "depends_on_batch": "text", "depends_policy": "text",
}  # fmt: skip
"""Columns v2 adds to job rows (live and archived): how the attempt that failed or cancelled
the job ended, a reply's delivery error, and fan-in."""

JOB_FIELDS = [*(line.split()[0] for line in JOB_COLUMNS.strip().splitlines()), *JOB_COLUMNS_V2]
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

SEARCH_TEXT = (
    "command || ' ' || coalesce(tag, '') || ' ' || coalesce(error ->> 'code', '') || ' ' || "
    "coalesce(error ->> 'message', '') || ' ' || coalesce(error ->> 'stack', '') || ' ' || "
    "coalesce(status, '') || ' ' || left(request_body, 100000) || ' ' || "
    "coalesce(left(response_body, 100000), '') || ' ' || left(logs, 200000)"
)
"""What the full-text index of the archive holds of a job (bodies and logs cut at 100,000
and 200,000 characters: a tsvector is limited to 1 MB)."""

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


CAP_LOGS = r"""
CREATE FUNCTION cap_logs(body text, max_chars integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    head CONSTANT text := '[... ';
    foot CONSTANT text := ' earlier characters truncated]' || E'\n';
    earlier numeric := 0;
    rest text := body;
    found text[];
    budget integer;
    tail text;
    newline integer;
BEGIN
    IF length(body) <= max_chars THEN
        RETURN body;
    END IF;
    found := regexp_match(body, '^\[\.\.\. (\d+) earlier characters truncated\]\n');
    IF found IS NOT NULL THEN
        earlier := found[1]::numeric;
        rest := substr(body, length(head || found[1] || foot) + 1);
    END IF;
    budget := max_chars - length(head || (earlier + length(rest)) || foot);
    IF budget <= 0 THEN
        RETURN right(body, max_chars);  -- a cap smaller than the marker: only the tail fits
    END IF;
    tail := right(rest, budget);
    IF length(rest) > budget AND substr(rest, length(rest) - budget, 1) <> E'\n' THEN
        newline := strpos(tail, E'\n');
        IF newline >= 1 AND newline < length(tail) THEN
            tail := substr(tail, newline + 1);
        END IF;
    END IF;
    RETURN head || (earlier + length(rest) - length(tail)) || foot || tail;
END
$$;
"""
"""`log_cap.cap_logs` in PL/pgSQL (the same rule, character for character; a test compares
them): called only for an append that overflows the cap."""

LOG_END = r"""
CREATE FUNCTION log_end(body text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce((regexp_match(body, '^\[\.\.\. (\d+) earlier'))[1]::bigint, 0)
        + length(body) - coalesce(length(substring(
            body from '^\[\.\.\. (?:\d+) earlier characters truncated\]\n')), 0)
$$;
"""
"""`log_cap.log_end` in SQL: the characters ever written to logs (the kept ones plus those
the cap counted in its marker)."""


V2 = "\n".join(
    [
        *(
            f"ALTER TABLE {t} ADD COLUMN {n} {k};"
            for t in ("background_job", "completed_job", "failed_job")
            for n, k in JOB_COLUMNS_V2.items()
        ),
        *(
            f"ALTER TABLE {t} ADD COLUMN search tsvector "
            f"GENERATED ALWAYS AS (to_tsvector('simple', {SEARCH_TEXT})) STORED;"
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
        # Created here, not by v1: its columns and outputs are v2's. A store made by an
        # earlier build of v1 that created it has the old signature to drop.
        "DROP FUNCTION IF EXISTS finish_jobs;",
        finish_function(JOB_FIELDS),
    ]
)
"""v2: attempt history (`job_attempt`, moved to `archived_attempt`'s month partition with
its job), fan-in (`job_dependency`, the job's `dependencies`, `depends_on_batch`,
`depends_policy`), batch records (callbacks, counters, declared total), a reply's delivery
error, overlap and bounds of scheduled tasks, `job_maintenance` (which engine runs retention
next), the archive's full-text index (a generated tsvector with a GIN index), and
`finish_jobs` (finish_sql.py)."""

MIGRATIONS: list[str] = [V1 + _archive_indexes() + CAP_LOGS, V2]
"""Migration N (1-based) brings the version in `schema_version` from N-1 to N."""

LATEST_VERSION = len(MIGRATIONS)

MIGRATION_LOCK = "jobs migration"
"""Text whose hash keys the advisory lock that serialises migrations of one schema."""


async def migrate(conn: Conn, schema: str, display: str, *, create: bool) -> None:
    """Bring `schema` to the latest version, or refuse a newer one or a foreign schema.

    Two processes starting at once do not race: the work happens under a session advisory
    lock, and the version is read again once it is held.
    """
    version = await _version(conn, schema, display)
    if version == LATEST_VERSION:
        return
    _check(version, schema, display, create)
    key = f"{MIGRATION_LOCK} {schema}"
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", key)
    try:
        version = await _version(conn, schema, display)
        _check(version, schema, display, create)
        if version is None:
            async with conn.transaction():
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                await conn.execute(f'CREATE TABLE "{schema}".schema_version (version integer)')
                await conn.execute(f'INSERT INTO "{schema}".schema_version VALUES (0)')
            version = 0
        for number in range(version + 1, LATEST_VERSION + 1):
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                await conn.execute(MIGRATIONS[number - 1])
                await conn.execute(f'UPDATE "{schema}".schema_version SET version = $1', number)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)


def _check(version: int | None, schema: str, display: str, create: bool) -> None:
    if version is not None and version > LATEST_VERSION:
        raise SchemaTooNewError(
            f"{display} has schema version {version}, newer than this version of jobs "
            f"understands ({LATEST_VERSION}); upgrade jobs to open it"
        )
    if version is None and not create:
        raise StoreNotFoundError(f"{display} is not a jobs store (it has no schema '{schema}')")


VERSION_PROBE = """
SELECT to_regclass($2) IS NOT NULL AS versioned,
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')) AS tables
"""


async def _version(conn: Conn, schema: str, display: str) -> int | None:
    """The store's schema version, or None when the schema has no store yet."""
    row = await conn.fetchrow(VERSION_PROBE, schema, f'"{schema}".schema_version')
    assert row is not None  # a SELECT without FROM has one row
    if row["versioned"]:
        return int(await conn.fetchval(f'SELECT version FROM "{schema}".schema_version'))
    if row["tables"]:
        raise StoreError(f"{display}: schema '{schema}' holds other tables; it is not a jobs store")
    return None
