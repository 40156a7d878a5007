"""A claim reads only the ready jobs of the commands its engine runs: a backlog of another
command's jobs costs it nothing (before migration 4 the ready index had no command column
and every claim stepped over all of them). Measured as the rows the claim statement's plan
reads from `background_job` (EXPLAIN ANALYZE), not time. Also migration 3 -> 4, and the
claims under the store's claim lock in one statement (`claim_locked`) that it creates."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import asyncpg
import pytest

from jobs_core.store.postgres import PostgresStore, flow_claims
from jobs_core.store.postgres.claim_sql import locked_round
from jobs_core.store.postgres.flow_claims import CLAIM_DEFAULT, CLAIM_NAMED, CLAIM_PLAIN
from jobs_core.store.postgres.schema import JOB_FIELDS, LATEST_VERSION
from jobs_core.store.protocol import NewJob, QueueChange
from tests.pg_server import PgServer
from tests.postgres.old_stores import finish_jobs_mark, make_store_at

NOW = 1_764_000_000_000
BACKLOG = 5000


def new_jobs(command: str, worker: str, n: int) -> list[NewJob]:
    return [
        NewJob(command=command, request_type="dict", request_body="{}", worker=worker,
               run_after=NOW, retry_limit=2, timeout_secs=60.0)
        for _ in range(n)
    ]  # fmt: skip


def rows_read(plan: dict[str, Any]) -> int:
    """Rows of `background_job` a plan node and those below it read: returned or filtered
    out, over all loops."""
    n = 0
    if plan.get("Relation Name") == "background_job":
        loops = plan.get("Actual Loops", 1)
        n += (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)) * loops
    return n + sum(rows_read(p) for p in plan.get("Plans", []))


CLAIMS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "named": (CLAIM_NAMED, (True, 12345)),
    "locked": (CLAIM_DEFAULT, (True, 100, [])),
    "plain": (CLAIM_PLAIN, (100,)),
}
"""Each claim statement and its parameters after the batch."""


async def explain_claim(conn: asyncpg.Connection, kind: str) -> tuple[int, int]:
    """(rows read, jobs claimed) of one claim statement (`CLAIMS`), rolled back."""
    sql, last = CLAIMS[kind]
    transaction = conn.transaction()
    await transaction.start()
    try:
        explained = await conn.fetchval(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + sql, "o", NOW, ["mine", "also_mine"], 100, *last
        )
        claimed = await conn.fetchval("SELECT count(*) FROM background_job WHERE state = 'started'")
    finally:
        await transaction.rollback()
    return rows_read(json.loads(explained)[0]["Plan"]), int(claimed)


async def test_a_claim_never_reads_a_backlog_of_commands_its_engine_does_not_run(
    store_url: str, pg_server: PgServer
) -> None:
    store = PostgresStore(store_url)
    try:
        # The backlog is older, so it comes first in the ready index's order.
        backlog = new_jobs("other", "", BACKLOG) + new_jobs("other", "solo", BACKLOG)
        await store.enqueue(backlog, NOW)
        await store.enqueue(new_jobs("mine", "", 150) + new_jobs("mine", "solo", 1), NOW)
    finally:
        await store.close()
    schema = store_url.rsplit("schema=", 1)[1]
    conn = await asyncpg.connect(pg_server.url())
    try:
        await conn.execute(f'SET search_path TO "{schema}"; ANALYZE background_job')
        for kind in CLAIMS:
            reads, claimed = await explain_claim(conn, kind)
            assert claimed == (1 if kind == "named" else 100)
            assert reads < 1000, (kind, reads)
    finally:
        await conn.close()


async def test_a_version_3_store_gets_the_ready_index_by_command_and_its_jobs_still_run(
    store_url: str, pg_server: PgServer
) -> None:
    schema = store_url.rsplit("schema=", 1)[1]
    await make_store_at(pg_server, schema, 3)
    store = PostgresStore(store_url)
    try:
        await store.enqueue(new_jobs("mine", "", 3), NOW)
        found = await store.claim(owner="o", commands=["mine"], named=False, limit=10, now=NOW)
    finally:
        await store.close()
    assert len(found) == 3
    definition = pg_server.psql(
        f"SELECT indexdef FROM pg_indexes WHERE schemaname = '{schema}' "
        "AND indexname = 'ix_job_ready'"
    )
    assert "(worker, queue, command, priority DESC, run_after, id)" in definition
    assert int(pg_server.psql(f"SELECT version FROM {schema}.schema_version")) == LATEST_VERSION
    assert finish_jobs_mark(pg_server, schema) == "none"


async def test_flow_claims_take_the_lock_in_one_statement_and_hold_a_limit_across_stores(
    store_url: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a limit in use, default claims run `claim_locked` (lock and claim in one round
    trip); claims of two stores at once still never start more than the limit."""
    ways: list[bool] = []
    real = flow_claims.claim

    async def spy(conn: Any, **kwargs: Any) -> flow_claims.ClaimRound:
        ways.append(bool(kwargs.get("lock")))
        return await real(conn, **kwargs)

    monkeypatch.setattr(flow_claims, "claim", spy)
    stores = [PostgresStore(store_url) for _ in range(2)]
    try:
        await stores[0].set_queue("q", QueueChange(concurrency=3), NOW)
        jobs = [dataclasses.replace(j, queue="q") for j in new_jobs("mine", "", 40)]
        await stores[0].enqueue(jobs, NOW)

        async def engine(store: PostgresStore, owner: str) -> int:
            got = 0
            for _ in range(10):
                claimed = await store.claim(
                    owner=owner, commands=["mine"], named=False, limit=10, now=NOW
                )
                got += len(claimed)
            return got

        started = await asyncio.gather(*(engine(s, f"e{n}") for n, s in enumerate(stores)))
    finally:
        for store in stores:
            await store.close()
    assert sum(started) == 3
    assert True in ways
    schema = store_url.rsplit("schema=", 1)[1]
    source = pg_server.psql(
        f"SELECT prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        f"WHERE n.nspname = '{schema}' AND p.proname = 'claim_locked'"
    )
    # The function runs the claim this version of jobs runs (a change to it needs a
    # migration that creates the function again).
    statement = locked_round(JOB_FIELDS)
    assert " ".join(statement.split()) in " ".join(source.split())
