"""The engine's statements keep finding rows by key after the live table grows: a prepared
statement keeps the plan made when it was first run, and a sequential scan planned while the
table was nearly empty would read the whole backlog at every claim and finish."""

from __future__ import annotations

import asyncpg

from jobs_core.records import JobState
from jobs_core.store.postgres import PostgresStore, flow_claims
from jobs_core.store.protocol import NewJob, Transition
from jobs_core.store.url import parse_store_url
from tests.conftest import wait_until

BACKLOG = 20_000


def job(n: int) -> NewJob:
    return NewJob(command="c", request_type="", request_body=f'{{"n": {n}}}', worker="",
                  run_after=0, retry_limit=0, timeout_secs=60)  # fmt: skip


async def claim_and_finish(store: PostgresStore, limit: int, now: int) -> int:
    jobs = await store.claim(owner="e1", commands=["c"], named=False, limit=limit, now=now)
    done = [Transition(job_id=j.id, state=JobState.COMPLETED, owner_guard="e1", duration_ms=1)
            for j in jobs]  # fmt: skip
    await store.finish(done, [], now)
    return len(jobs)


JOBS_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE application_name = 'jobs'"


async def backends(dsn: str) -> set[int]:
    """The server processes of connections opened by stores (any test's)."""
    conn = await asyncpg.connect(dsn)
    try:
        return {row[0] for row in await conn.fetch(JOBS_BACKENDS)}
    finally:
        await conn.close()


async def rows_read_by_scans(dsn: str, schema: str, others: set[int]) -> int:
    """Rows of the live table read by sequential scans, once every backend the store used
    has gone (a backend reports its counts when it exits); `others` were there before."""

    async def gone() -> bool:
        return not (await backends(dsn) - others)

    await wait_until(gone, what="the store's connections to close")
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables "
                "WHERE schemaname = $1 AND relname = 'background_job'",
                schema,
            )
        )
    finally:
        await conn.close()


async def test_claims_and_finishes_do_not_scan_a_backlog_that_grew_after_they_were_planned(
    store_url: str,
) -> None:
    url = parse_store_url(store_url)
    others = await backends(url.dsn)
    store = PostgresStore(store_url)
    try:
        for now in range(1, 13):  # plans made, and kept, while the table holds one job
            await store.enqueue([job(now)], now=now)
            assert await claim_and_finish(store, 100, now) == 1
        for first in range(0, BACKLOG, 1000):
            await store.enqueue([job(first + n) for n in range(1000)], now=20)
        claimed = sum([await claim_and_finish(store, 100, 21 + n) for n in range(10)])
        assert claimed == 1000
    finally:
        await store.close()
    # A scan of the backlog at each of those 10 claims (and finishes) would read 200,000+.
    assert await rows_read_by_scans(url.dsn, url.schema, others) < BACKLOG


async def test_the_engines_claim_is_planned_once_not_at_every_call(store_url: str) -> None:
    """A prepared statement the server may re-plan at each call when its generic plan looks
    dearer than a custom one: the default claim was (1.2 ms of planning a claim). Engine
    connections use the generic plan from the first call."""
    store = PostgresStore(store_url)
    try:
        await store.enqueue([job(n) for n in range(30)], now=1)

        async def claim_one_at_a_time(conn: asyncpg.Connection) -> asyncpg.Record:
            for _ in range(25):
                found = await flow_claims.claim(
                    conn, owner="e1", commands=["c", "d"], named=False, limit=1, per_queue=1,
                    now=1, locked=False, lock_class=0, finished=[],
                )  # fmt: skip
                assert len(found.jobs) == 1
            return await conn.fetchrow(
                "SELECT sum(generic_plans) AS generic, sum(custom_plans) AS custom "
                "FROM pg_prepared_statements WHERE statement LIKE '%claimed AS%' "
                "AND statement NOT LIKE '%pg_prepared_statements%'"
            )

        plans = await store._db.one(claim_one_at_a_time, engine=True)
    finally:
        await store.close()
    assert (plans["generic"], plans["custom"]) == (25, 0)
