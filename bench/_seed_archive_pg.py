"""Seeding a large PostgreSQL store fast for the query benchmark: generate_series, not enqueue.

The same jobs as `_seed_archive.py` writes for SQLite (every 50th failed, 10 commands, 100
tags, 10,000 users), into the month's partitions. Seeding only: every measurement goes
through the public API.
"""

from __future__ import annotations

import time

import asyncpg
from _seed_archive import FAILED_EVERY, OK_BODY, enqueue_queued

from jobs_core import BackgroundJobs
from jobs_core.store.postgres.archive import ensure_partitions, month_bounds, month_of
from jobs_core.store.postgres.schema import JOB_FIELDS, column_types
from jobs_core.store.postgres.search_sql import SEARCH_VECTOR
from jobs_core.store.url import parse_store_url


def _expressions(first_ms: int, span_ms: int, n: int) -> dict[str, str]:
    """SQL per job column, in terms of the generated id `x`."""
    done = f"({first_ms}::bigint + x::bigint * {span_ms} / {n})"
    failed = f"(x % {FAILED_EVERY} = 0)"
    return {
        "id": "x", "command": "'cmd_' || (x % 10)", "request_type": "'dict'",
        "request_body": "'{\"n\": ' || x || ', \"email\": \"user' || (x % 10000) "
        "|| '@example.com\"}'",
        "state": f"CASE WHEN {failed} THEN 'failed' ELSE 'completed' END", "worker": "''",
        "ref_id": "'ref-' || x", "tag": "'tag' || (x % 100)", "batch_id": "'batch-' || (x / 1000)",
        "created_by": "'svc' || (x % 50)", "user_id": "'user' || (x % 10000)",
        "run_after": f"{done} - 50", "created_date": f"{done} - 50",
        "started_date": f"{done} - 20", "completed_date": done, "last_activity_date": done,
        "retry_limit": "2", "attempts": "1", "timeout_secs": "600.0", "duration_ms": "20",
        "progress": "1.0", "status": "'done'", "logs": "E'[info] processed\\n'",
        "logs_truncated": "false", "queue": "'default'", "priority": "0",
        "concurrency_limit": "1",
        "response_type": f"CASE WHEN {failed} THEN NULL ELSE 'dict' END",
        "response_body": f"CASE WHEN {failed} THEN NULL ELSE '{OK_BODY}' END",
        "error": f"CASE WHEN {failed} THEN jsonb_build_object('code', 'ValueError', 'message', "
        "'bad input ' || x, 'stack', 'Traceback (most recent call last): ...', "
        "'field_errors', '{}'::jsonb) END",
    }  # fmt: skip


async def _fill(conn: asyncpg.Connection, n: int, first_ms: int, span_ms: int) -> None:
    exprs = _expressions(first_ms, span_ms, n)
    types = column_types()
    select = ", ".join(exprs.get(name, f"NULL::{types[name]}") for name in JOB_FIELDS)
    for table, test in (("completed_job", "<> 0"), ("failed_job", "= 0")):
        await conn.execute(
            f"INSERT INTO {table} ({', '.join(JOB_FIELDS)}, search) "
            f"SELECT r.*, {SEARCH_VECTOR} FROM (SELECT {select} "
            f"FROM generate_series(1, {n}) AS x WHERE x % {FAILED_EVERY} {test}) "
            f"AS r({', '.join(JOB_FIELDS)})"
        )
    # An archived job's ref_id is in job_ref, as `finish_jobs` writes it (schema v10).
    await conn.execute(
        "INSERT INTO job_ref (ref_id, id) SELECT ref_id, id FROM completed_job "
        "WHERE ref_id IS NOT NULL UNION ALL SELECT ref_id, id FROM failed_job "
        "WHERE ref_id IS NOT NULL"
    )
    archived = "(SELECT state, completed_date FROM completed_job UNION ALL " \
        "SELECT state, completed_date FROM failed_job)"  # fmt: skip
    await conn.execute(
        "INSERT INTO job_minute (minute, state, n) SELECT completed_date - completed_date % "
        f"60000, state, count(*) FROM {archived} AS a GROUP BY 1, 2"
    )
    await conn.execute(
        f"UPDATE job_count SET n = (SELECT count(*) FROM {archived} AS s "
        "WHERE s.state = job_count.state)"
    )
    await conn.execute(f"SELECT setval('job_id_seq', {n})")
    await conn.execute("ANALYZE")


async def seed_store_pg(url: str, archived: int, queued: int) -> str:
    """A store with `archived` jobs in this month's partitions and `queued` jobs queued."""
    jobs = BackgroundJobs(url)
    await jobs.open()
    await jobs.close()
    now_ms = int(time.time() * 1000)
    month = month_of(now_ms)
    first_ms = month_bounds(month)[0]
    parsed = parse_store_url(url)
    conn = await asyncpg.connect(parsed.dsn, server_settings={"search_path": parsed.schema})
    try:
        await ensure_partitions(conn, [month])
        await _fill(conn, archived, first_ms, max(1, now_ms - 60_000 - first_ms))
    finally:
        await conn.close()
    await enqueue_queued(url, queued)
    return month
