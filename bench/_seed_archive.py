"""Seeding a large store fast for the query benchmark: rows written with SQL, not enqueued.

Benchmarks may use store internals for seeding only; every measurement goes through the
public API.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time

from jobs_core import BackgroundJobs, EnqueueRequest
from jobs_core.figures import bucket_of
from jobs_core.store.rows import SUMMARY_FIELDS
from jobs_core.store.sqlite.month_reader import month_of, month_path
from jobs_core.store.sqlite.month_schema import MONTH_VERSION, month_ddl
from jobs_core.store.sqlite.schema import JOB_FIELDS

COMMANDS = [f"cmd_{i}" for i in range(10)]
OK_BODY = '{"ok": true}'
FAILED_EVERY = 50
"""Every 50th archived job failed (2%); the rest completed."""


def _expressions(first_ms: int, span_ms: int, n: int) -> dict[str, str]:
    """SQL per job column, in terms of the generated id `x`."""
    done = f"({first_ms} + x * {span_ms} / {n})"
    failed = f"(x % {FAILED_EVERY} = 0)"
    return {
        "id": "x", "command": "'cmd_' || (x % 10)", "request_type": "'dict'",
        "request_body": "json_object('n', x, 'email', 'user' || (x % 10000) || '@example.com')",
        "state": f"CASE WHEN {failed} THEN 'failed' ELSE 'completed' END", "worker": "''",
        "ref_id": "'ref-' || x", "tag": "'tag' || (x % 100)", "batch_id": "'batch-' || (x / 1000)",
        "created_by": "'svc' || (x % 50)", "user_id": "'user' || (x % 10000)",
        "run_after": f"{done} - 50", "created_date": f"{done} - 50",
        "started_date": f"{done} - 20", "completed_date": done, "last_activity_date": done,
        "retry_limit": "2", "attempts": "1", "timeout_secs": "600.0", "duration_ms": "20",
        "progress": "1.0", "status": "'done'", "logs": "'[info] processed\n'",
        "logs_truncated": "0", "queue": "'default'", "priority": "0", "concurrency_limit": "1",
        "response_type": f"CASE WHEN {failed} THEN NULL ELSE 'dict' END",
        "response_body": f"CASE WHEN {failed} THEN NULL ELSE '{OK_BODY}' END",
        "error": f"CASE WHEN {failed} THEN json_object('code', 'ValueError', 'message', "
        "'bad input ' || x, 'stack', 'Traceback (most recent call last): ...', "
        "'field_errors', json('{}')) END",
    }  # fmt: skip


def _generate_sql(table: str, test: str, n: int, first_ms: int, span_ms: int) -> str:
    exprs = _expressions(first_ms, span_ms, n)
    select = ", ".join(exprs.get(name, "NULL") for name in JOB_FIELDS)
    return (
        f"INSERT INTO m.{table} ({', '.join(JOB_FIELDS)}) "
        f"WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {n}) "
        f"SELECT {select} FROM g WHERE {test}"
    )


def _summary_sql(table: str) -> str:
    live = {"error_code": "error ->> '$.code'", "error_message": "error ->> '$.message'"}
    select = ", ".join(live.get(name, name) for name in SUMMARY_FIELDS)
    return (
        f"INSERT INTO main.job_summary ({', '.join(SUMMARY_FIELDS)}) SELECT {select} FROM m.{table}"
    )


def _fill(conn: sqlite3.Connection, n: int, first_ms: int, span_ms: int) -> None:
    ddl = month_ddl("m")
    # Tables and their later columns first; the indexes, the search index's fill and its
    # triggers after the rows (built once, in bulk: a faster load).
    later = ("CREATE INDEX", "INSERT INTO", "CREATE TRIGGER")
    indexes = [s for s in ddl if s.startswith(later)]
    tables = [s for s in ddl if s not in indexes]
    conn.execute("BEGIN")
    for statement in tables:
        conn.execute(statement)
    for table, test in (("completed_job", "<> 0"), ("failed_job", "= 0")):
        conn.execute(_generate_sql(table, f"x % {FAILED_EVERY} {test}", n, first_ms, span_ms))
    for statement in indexes:
        conn.execute(statement)
    for table in ("completed_job", "failed_job"):
        conn.execute(_summary_sql(table))
    conn.execute(
        "INSERT INTO job_minute (minute, state, n) SELECT completed_date - completed_date % "
        "60000, state, count(*) FROM job_summary GROUP BY 1, 2"
    )
    conn.execute(  # the per-command tallies engines write as jobs finish (20 ms each)
        "INSERT INTO command_minute (minute, command, state, bucket, n, total_ms) "
        "SELECT completed_date - completed_date % 60000, command, state, ?, count(*), "
        "sum(duration_ms) FROM job_summary GROUP BY 1, 2, 3",
        (bucket_of(20),),
    )
    conn.execute(
        "UPDATE job_count SET n = (SELECT count(*) FROM job_summary s "
        "WHERE s.state = job_count.state)"
    )
    conn.execute(f"PRAGMA m.user_version = {MONTH_VERSION}")
    conn.execute("COMMIT")


def seed_archive(directory: str, n: int, now_ms: int) -> str:
    """Write `n` archived jobs of the current month; returns the month (`YYYY-MM`)."""
    month = month_of(now_ms)
    t = time.gmtime(now_ms // 1000)
    first_ms = int(time.mktime((t.tm_year, t.tm_mon, 1, 0, 0, 0, 0, 0, 0)) - time.timezone) * 1000
    span = max(1, now_ms - 60_000 - first_ms)
    conn = sqlite3.connect(os.path.join(directory, "jobs.db"), isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("ATTACH DATABASE ? AS m", (month_path(directory, month),))
        conn.execute("PRAGMA m.journal_mode = WAL")
        conn.execute("PRAGMA m.synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")
        _fill(conn, n, first_ms, span)
        conn.execute("PRAGMA m.wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return month


async def seed_store(directory: str, archived: int, queued: int) -> str:
    """A store with `archived` jobs in this month's database and `queued` jobs in the queue."""
    jobs = BackgroundJobs(directory)
    await jobs.close()
    month = seed_archive(directory, archived, int(time.time() * 1000))
    await enqueue_queued(directory, queued)
    async with BackgroundJobs(directory):  # leaves one (stopped) engine row behind
        await asyncio.sleep(0.05)
    return month


async def enqueue_queued(location: str, queued: int) -> None:
    """`queued` jobs in the queue, enqueued through the API in batches of 1,000 (a store
    directory or a PostgreSQL URL)."""
    jobs = BackgroundJobs(location)
    for name in COMMANDS:
        jobs.command(name)(_noop)
    for first in range(0, queued, 1000):
        await jobs.enqueue_many(
            [
                EnqueueRequest(command=COMMANDS[i % 10], request={"n": i}, tag=f"tag{i % 100}",
                               created_by=f"svc{i % 50}", user_id=f"user{i % 10000}")
                for i in range(first, min(queued, first + 1000))
            ]
        )  # fmt: skip
    await jobs.close()


async def _noop(req: dict[str, int]) -> None:
    return None
