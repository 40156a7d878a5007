"""A round of the flow-control claim sizes each queue's part by what the other queues'
allowances leave (`claim_sql.SHARE`): a queue at or near its concurrency limit, or paused,
gives its unused share to the queues with room, so one round fills the batch instead of two
(bench/README.md, issue 10's ninth pass). Migration 11 makes `claim_locked` again with it."""

from __future__ import annotations

import json
from collections import Counter

import asyncpg

from jobs_core.store.postgres import PostgresStore, flow_claims
from jobs_core.store.postgres.schema import LATEST_VERSION
from jobs_core.store.protocol import NewJob, QueueChange
from jobs_core.store.url import parse_store_url
from tests.pg_server import PgServer
from tests.postgres.old_stores import function_mark, make_store_at

NOW = 1_764_000_000_000


def new(i: int, queue: str) -> NewJob:
    return NewJob(command="c", request_type="dict", request_body=json.dumps({"i": i}),
                  worker="", run_after=NOW, retry_limit=0, timeout_secs=60.0,
                  queue=queue)  # fmt: skip


async def connect(store_url: str) -> asyncpg.Connection:
    url = parse_store_url(store_url)
    return await asyncpg.connect(url.dsn, server_settings={"search_path": url.schema})


async def one_round(
    store_url: str, batch: int, per_queue: int, *, unlocked: list[int] | None = None
) -> Counter[str]:
    """The jobs by queue that one claim statement under the lock (a single round) takes;
    `unlocked` gets how many ready jobs another connection could lock before it commits."""
    conn = await connect(store_url)
    try:
        async with conn.transaction():
            await flow_claims.lock_claims(conn, 1)
            found = await flow_claims.claim(
                conn, owner="o", commands=["c"], named=False, limit=batch,
                per_queue=per_queue, now=NOW, locked=True, lock_class=1, finished=[],
            )  # fmt: skip
            if unlocked is not None:
                other = await connect(store_url)
                try:
                    unlocked.append(await other.fetchval(FREE))
                finally:
                    await other.close()
    finally:
        await conn.close()
    return Counter(j.queue for j in found.jobs)


FREE = """SELECT count(*) FROM (SELECT id FROM background_job WHERE state = 'queued'
                             FOR UPDATE SKIP LOCKED) AS free"""


async def test_a_queue_at_its_limit_leaves_its_share_to_the_others_in_one_round(
    store_url: str,
) -> None:
    store = PostgresStore(store_url)
    try:
        await store.set_queue("a", QueueChange(concurrency=2), NOW)
        await store.set_queue("d", QueueChange(paused=True), NOW)
        await store.enqueue([new(i, q) for q in "abcd" for i in range(10)], NOW)
        # Shares of 3: `a` may start 2 and `d` none; their 1 + 3 go to `b` and `c`.
        assert await one_round(store_url, 9, 3) == {"a": 2, "b": 4, "c": 3}
        assert await one_round(store_url, 12, 3) == {"b": 6, "c": 6}  # `a` at its limit
    finally:
        await store.close()


async def test_shares_within_every_allowance_are_unchanged(store_url: str) -> None:
    store = PostgresStore(store_url)
    try:
        await store.set_queue("a", QueueChange(concurrency=5), NOW)
        await store.enqueue([new(i, q) for q in "abc" for i in range(10)], NOW)
        assert await one_round(store_url, 9, 3) == {"a": 3, "b": 3, "c": 3}
    finally:
        await store.close()


async def test_without_a_share_given_a_round_shares_the_batch_among_the_queues_it_finds(
    store_url: str,
) -> None:
    """The store passes no share: one from the last claim's count of queues was stale when a
    producer had filled more queues since, and each queue then gave (and locked) a batch."""
    store = PostgresStore(store_url)
    try:
        await store.set_queue("a", QueueChange(concurrency=50), NOW)
        await store.enqueue([new(i, q) for q in "abcde" for i in range(20)], NOW)
        unlocked: list[int] = []
        took = await one_round(store_url, 50, 0, unlocked=unlocked)
        assert took == {q: 10 for q in "abcde"}
        assert unlocked == [50]  # only the jobs it took were locked
    finally:
        await store.close()


async def test_a_version_10_store_with_jobs_gets_claim_locked_with_the_shares(
    pg_server: PgServer, store_url: str
) -> None:
    schema = store_url.rsplit("schema=", 1)[1]
    await make_store_at(pg_server, schema, 10)
    pg_server.psql(f"COMMENT ON FUNCTION {schema}.claim_locked IS 'made by migration 10'")
    pg_server.psql(
        f"SET search_path TO {schema}; "
        "INSERT INTO job_queue (name, concurrency, updated_at) VALUES ('a', 1, 0); "
        "INSERT INTO background_job (id, created_date, command, request_type, request_body, "
        "worker, run_after, retry_limit, timeout_secs, state, queue) "
        "SELECT nextval('job_id_seq'), 0, 'c', 'dict', '{}', '', 0, 0, 60, 'queued', q "
        "FROM unnest(ARRAY['a', 'b', 'c']) AS q, generate_series(1, 10)"
    )
    old = PostgresStore(store_url)  # opening it migrates the store, its jobs queued
    try:
        jobs = await old.claim(owner="o", commands=["c"], named=False, limit=7, now=NOW)
    finally:
        await old.close()
    assert Counter(j.queue for j in jobs) == {"a": 1, "b": 3, "c": 3}
    assert int(pg_server.psql(f"SELECT version FROM {schema}.schema_version")) == LATEST_VERSION
    source = function_mark(pg_server, schema, "claim_locked", body=True)
    assert source.startswith("none ") and "share AS" in source  # made again by migration 11
