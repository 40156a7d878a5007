"""DDL and numbered migrations of the month databases (`jobs_YYYY-MM.db`): their job
tables and indexes, attempts and full-text index, and how to read a month written by an
older version."""

from __future__ import annotations

from .schema import (
    ATTEMPT_COLUMNS,
    JOB_COLUMNS_ADDED,
    JOB_COLUMNS_HISTORY,
    JOB_COLUMNS_V1,
    JOB_FIELDS,
    JOB_FIELDS_V1,
)

MONTH_TABLES = ("completed_job", "failed_job")

MONTH_INDEX_COLUMNS = ("command", "tag", "batch_id", "created_by", "user_id", "ref_id", "state")
"""Columns the admin can filter a month's jobs by; each gets an index (column, id)."""

NULLABLE_INDEX_COLUMNS = frozenset(("tag", "batch_id", "created_by", "user_id", "ref_id"))
"""Indexed columns most jobs leave NULL: a new month file indexes only the jobs that set
them (a partial index). A filter on one (`= ?`, `IN`, a prefix range, `IS NOT NULL`)
implies the index's condition, so every query it served still uses it. Five index entries
fewer per archived job: the archive's copy 7.8 -> 7.0 µs a job with the default queue, and
12.3 -> 10.2 with the mixed workload, whose finished jobs reach the month out of id order
(by priority), each entry then inserted mid-index. Month files made before keep their full
indexes (they serve the same queries; rebuilding a big month's indexes on attach would
block archiving for seconds)."""

DAY_TOKEN, HOUR_TOKEN = "jobsday", "jobshour"
"""Prefixes of the finish time's tokens in a job's indexed text: its UTC day and hour, as
numbers since the epoch (integer division, where strftime cost 0.7 µs a job, measured)."""

SEARCH_TEXT = (
    "{row}command", "{row}tag", "{row}error ->> '$.code'", "{row}error ->> '$.message'",
    "{row}error ->> '$.stack'", "{row}status", "{row}request_body", "{row}response_body",
    "{row}logs",
    f"'{DAY_TOKEN}' || ({{row}}completed_date / 86400000) || ' {HOUR_TOKEN}' "
    "|| ({row}completed_date / 3600000)",
)  # fmt: skip
"""What a month's full-text index (`job_text`, FTS5) holds of each job, as one column:
one column costs half the time per row of one per field (measured), and search looks in
all of them at once. The finish day and hour ride along as tokens, so a date range is part
of the full-text query rather than a filter on its hits."""


def _month_v1(schema: str) -> list[str]:
    return [
        *(f"CREATE TABLE IF NOT EXISTS {schema}.{t} ({JOB_COLUMNS_V1})" for t in MONTH_TABLES),
        *(
            f"CREATE INDEX IF NOT EXISTS {schema}.ix_{table}_{column} ON {table}({column}, id)"
            + (f" WHERE {column} IS NOT NULL" if column in NULLABLE_INDEX_COLUMNS else "")
            for table in MONTH_TABLES
            for column in MONTH_INDEX_COLUMNS
        ),
    ]


def _month_v2(schema: str) -> list[str]:
    return [
        _add_column(schema, t, {"logs_truncated": "INTEGER NOT NULL DEFAULT 0"})
        for t in MONTH_TABLES
    ]


def _add_column(schema: str, table: str, columns: dict[str, str]) -> str:
    ((name, kind),) = columns.items()
    return f"ALTER TABLE {schema}.{table} ADD COLUMN {name} {kind}"


MONTH_V3_FLOW = """
ALTER TABLE {schema}.completed_job ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.completed_job ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {schema}.completed_job ADD COLUMN expires_at INTEGER;
ALTER TABLE {schema}.completed_job ADD COLUMN concurrency_key TEXT;
ALTER TABLE {schema}.completed_job ADD COLUMN concurrency_limit INTEGER NOT NULL DEFAULT 1;
ALTER TABLE {schema}.completed_job ADD COLUMN unique_key TEXT;
ALTER TABLE {schema}.completed_job ADD COLUMN retry_policy TEXT;
ALTER TABLE {schema}.failed_job ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.failed_job ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {schema}.failed_job ADD COLUMN expires_at INTEGER;
ALTER TABLE {schema}.failed_job ADD COLUMN concurrency_key TEXT;
ALTER TABLE {schema}.failed_job ADD COLUMN concurrency_limit INTEGER NOT NULL DEFAULT 1;
ALTER TABLE {schema}.failed_job ADD COLUMN unique_key TEXT;
ALTER TABLE {schema}.failed_job ADD COLUMN retry_policy TEXT;
CREATE INDEX IF NOT EXISTS {schema}.ix_completed_job_queue ON completed_job(queue, id);
CREATE INDEX IF NOT EXISTS {schema}.ix_failed_job_queue ON failed_job(queue, id);
"""
"""v3: the flow-control fields of a job (queue, priority, expiry, concurrency key, unique
key, retry policy), and an index to list a month's jobs by queue."""


def _month_v3(schema: str) -> list[str]:
    return [s.strip() for s in MONTH_V3_FLOW.format(schema=schema).split(";") if s.strip()]


def _month_v4(schema: str) -> list[str]:
    """Attempts kept with their job, and the month's full-text index, written by the
    archiving transaction (a contentless FTS5 table: the text is the job row's, not
    copied)."""
    statements = [
        _add_column(schema, t, {name: kind})
        for t in MONTH_TABLES
        for name, kind in JOB_COLUMNS_HISTORY.items()
    ]
    statements += [
        f"CREATE TABLE IF NOT EXISTS {schema}.job_attempt ({ATTEMPT_COLUMNS}) WITHOUT ROWID",
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {schema}.job_text USING fts5(body, content='', "
        "columnsize=0, tokenize='unicode61')",
        *search_triggers(schema),
    ]
    return statements


def search_values(row: str) -> str:
    """The indexed text of a job row (`row` is its alias and a dot, or empty)."""
    parts = (f"coalesce({expr.replace('{row}', row)}, '')" for expr in SEARCH_TEXT)
    return " || ' ' || ".join(parts)


def search_triggers(schema: str) -> list[str]:
    """Index the rows there before the index existed, and triggers that unindex each row a
    month loses. The archive indexes the rows it writes itself, in one statement
    (`archive.index_sql`): a trigger per row cost twice as much (measured)."""
    statements: list[str] = []
    for table in MONTH_TABLES:
        statements.append(
            f"INSERT INTO {schema}.job_text(rowid, body) "
            f"SELECT id, {search_values('')} FROM {schema}.{table}"
        )
        # A contentless index forgets a row given the very text it indexed.
        statements.append(
            f"CREATE TRIGGER IF NOT EXISTS {schema}.{table}_delete_text AFTER DELETE ON {table} "
            f"BEGIN INSERT INTO job_text(job_text, rowid, body) "
            f"VALUES ('delete', old.id, {search_values('old.')}); END"
        )
    return statements


MONTH_MIGRATIONS = [_month_v1, _month_v2, _month_v3, _month_v4]
"""Migration N (1-based) brings a month database's `user_version` from N-1 to N."""

MONTH_VERSION = len(MONTH_MIGRATIONS)

MONTH_SEARCH_VERSION = 4
"""Month files from this version on have the full-text index (`job_text`)."""


def month_ddl(schema: str, version: int = 0) -> list[str]:
    """Statements bringing a month database attached as `schema` from `version` to the
    latest: its tables and indexes, then each later migration in order."""
    statements: list[str] = []
    for number in range(version + 1, MONTH_VERSION + 1):
        statements += MONTH_MIGRATIONS[number - 1](schema)
    return statements


def month_select(version: int) -> str:
    """The column list selecting a full job row from a month database at `version`; a
    month written by an older jobs lacks the later columns, read as their defaults."""
    if version >= MONTH_VERSION:
        return ", ".join(JOB_FIELDS)
    added = [name if since <= version else default for name, since, default in JOB_COLUMNS_ADDED]
    return ", ".join([*JOB_FIELDS_V1, *added])
