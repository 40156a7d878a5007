"""The plain claim on PostgreSQL returns a plain job's columns only, less those the claimer
knows (`rows.PLAIN_FIELDS`), and every other column as one record that is NULL when none
is set (`rows.RARE`): whatever a job holds, the claimed `Job` is the one its full row
makes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from jobs_core.records import Job, JobState
from jobs_core.store.postgres import PostgresStore, flow_claims
from jobs_core.store.postgres.rows import JOB_SELECT, PLAIN_FIELDS, RARE, row_to_job
from jobs_core.store.postgres.schema import JOB_FIELDS
from jobs_core.store.protocol import NewJob
from jobs_core.store.url import parse_store_url
from tests.store.test_claimed_rows import FANCY

NOW = 1_764_000_000_000
OWNER = "probe"

EARLIER_ATTEMPT = """
UPDATE background_job SET logs_truncated = true, logs = 'x', duration_ms = 5, progress = 0.5,
    error = '{"code": "E", "message": "m", "stack": "", "field_errors": {}}',
    status = 's', last_outcome = 'failed', attempts = 1
WHERE id = $1
"""
"""What an attempt that failed leaves on a job queued again for its retry."""


def new_job(**options: Any) -> NewJob:
    return NewJob(
        command="step", request_type="dict", request_body='{"n": 1}', worker="",
        run_after=NOW, retry_limit=2, timeout_secs=60.0, **options,
    )  # fmt: skip


async def connect(store_url: str) -> asyncpg.Connection:
    url = parse_store_url(store_url)
    conn = await asyncpg.connect(url.dsn)
    await conn.execute(f"SET search_path = {url.schema}")
    return conn


async def full_job(conn: asyncpg.Connection, job_id: int) -> Job:
    row = await conn.fetchrow(f"SELECT {JOB_SELECT} FROM background_job WHERE id = $1", job_id)
    return row_to_job(row)


async def test_a_claimed_job_is_the_job_of_its_full_row(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[int] = []
    real = flow_claims.plain_claimed_job

    def spy(row: Any, known: tuple[Any, ...]) -> Job:
        made.append(row[0])
        return real(row, known)

    monkeypatch.setattr(flow_claims, "plain_claimed_job", spy)
    store = PostgresStore(store_url)
    await store.open()
    conn = await connect(store_url)
    try:
        ids = list(await store.enqueue([new_job(), new_job(**FANCY), new_job()], NOW))
        await conn.execute(EARLIER_ATTEMPT, ids[2])
        plain = await full_job(conn, ids[0])
        claimed = await store.claim(
            owner=OWNER, commands=["step"], named=False, limit=10, now=NOW + 1
        )
        assert [j.id for j in claimed] == ids
        assert made == ids  # the plain statement claimed them
        for job in claimed:
            assert job.state is JobState.STARTED and job.owner == OWNER
            assert job == await full_job(conn, job.id)
    finally:
        await conn.close()
        await store.close()
    # Read before the claim, the plain job's row differs from the claimed job in what the
    # claim sets only.
    assert claimed[0] == replace(
        plain, state=JobState.STARTED, owner=OWNER, started_date=NOW + 1,
        last_activity_date=NOW + 1, attempts=1,
    )  # fmt: skip
    fancy, retried = claimed[1], claimed[2]
    assert (fancy.tag, fancy.args, fancy.meta) == ("t", {"a": "1"}, {"m": "2"})
    assert (fancy.unique_key, fancy.expires_at) == ("k-1", NOW + 60_000)
    assert retried.logs_truncated is True and retried.error is not None
    assert (retried.attempts, retried.progress, retried.status) == (2, 0.5, "s")


async def test_any_other_column_set_comes_back_in_the_record(store_url: str) -> None:
    """Each column that is neither returned nor known, set alone, makes the record non-NULL
    and reaches the claimed job."""
    others = [n for n in JOB_FIELDS if n not in (*PLAIN_FIELDS, "worker", "owner", "state")]
    others = [n for n in others if n not in ("started_date", "last_activity_date")]
    assert sorted(others) == sorted(RARE)
    assert "logs_truncated" in others and "error" in others
    values = {
        "logs_truncated": "true", "error": """'{"code": "E", "message": "m"}'""",
        "args": """'{"a": "1"}'""", "meta": """'{"m": "2"}'""", "dependencies": "'[1]'",
        "retry_policy": """'{"kind": "fixed", "delay_ms": 5}'""", "last_outcome": "'failed'",
        "depends_policy": "'finished'", "progress": "0.5",
    }  # fmt: skip
    store = PostgresStore(store_url)
    await store.open()
    conn = await connect(store_url)
    try:
        for name in others:
            (job_id,) = await store.enqueue([new_job()], NOW)
            value = values.get(name, "'7'" if "date" not in name else "7")
            if name in ("parent_id", "depends_on", "duration_ms", "expires_at"):
                value = "7"
            await conn.execute(f"UPDATE background_job SET {name} = {value} WHERE id = $1", job_id)
            if name == "expires_at":  # an expired job is not claimed
                await conn.execute(
                    f"UPDATE background_job SET expires_at = {NOW + 60_000} WHERE id = $1", job_id
                )
            (claimed,) = await store.claim(
                owner=OWNER, commands=["step"], named=False, limit=10, now=NOW + 1
            )
            assert claimed.id == job_id
            full = await full_job(conn, job_id)
            assert claimed == full, name
            assert getattr(claimed, name) != getattr(Job(id=0, command="c"), name), name
            await conn.execute("DELETE FROM background_job WHERE id = $1", job_id)
    finally:
        await conn.close()
        await store.close()


def test_the_plain_claim_sends_the_short_row() -> None:
    """What each job of the plain statement returns: `PLAIN_FIELDS` then the record."""
    sql = flow_claims.CLAIM_PLAIN
    select = sql.rsplit("SELECT c.", 1)[1]
    assert select.startswith(", c.".join(PLAIN_FIELDS) + ", c.rare,")
    assert "num_nonnulls(" in sql and "nullif(b.logs_truncated, false)" in sql
