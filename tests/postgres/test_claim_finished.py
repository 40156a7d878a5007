"""A claim leaves the claiming engine's ended jobs, whose outcomes are not yet committed, out
of its queues' and keys' running counts (`Store.claim`'s `finished`, `claim_sql.NOT_MINE`): the
engine writes outcomes beside its claims, and a limited queue's room would otherwise come
back only once the write commits (bench/README.md, issue 10's sixth pass)."""

from __future__ import annotations

import json

import asyncpg

from jobs_core import JobState
from jobs_core.records import AttemptOutcome
from jobs_core.store.postgres import PostgresStore, flow_claims
from jobs_core.store.postgres.schema import LATEST_VERSION
from jobs_core.store.protocol import NewJob, QueueChange, Transition
from tests.pg_server import PgServer
from tests.postgres.old_stores import function_mark, make_store_at

NOW = 1_764_000_000_000


def new(i: int, queue: str = "default", key: str | None = None) -> NewJob:
    return NewJob(command="c", request_type="dict", request_body=json.dumps({"i": i}),
                  worker="", run_after=NOW, retry_limit=0, timeout_secs=60.0, queue=queue,
                  concurrency_key=key)  # fmt: skip


async def claimed(store: PostgresStore, owner: str, finished: list[int]) -> list[int]:
    """The ids a default claim of up to 10 jobs by `owner` takes, telling it `finished`."""
    jobs = await store.claim(
        owner=owner, commands=["c"], named=False, limit=10, now=NOW, finished=finished
    )
    return [j.id for j in jobs]


def done(job_id: int, owner: str) -> Transition:
    return Transition(job_id=job_id, state=JobState.COMPLETED, owner_guard=owner,
                      response_body="null", outcome=AttemptOutcome.COMPLETED)  # fmt: skip


async def test_a_limited_queue_leaves_out_only_the_claimers_ended_jobs_still_started(
    store_url: str,
) -> None:
    store = PostgresStore(store_url)
    try:
        await store.set_queue("q", QueueChange(concurrency=2), NOW)
        await store.enqueue([new(i, "q") for i in range(6)], NOW)

        first, second = await claimed(store, "a", [])
        assert await claimed(store, "a", []) == []  # at its limit
        assert await claimed(store, "b", [first]) == []  # `a`'s job: `b` counts it
        third = await claimed(store, "a", [first])  # `a`'s handler of `first` ended
        assert len(third) == 1
        await store.finish([done(first, "a")], [], NOW)
        # Written meanwhile: no longer started, so not left out twice.
        assert await claimed(store, "a", [first]) == []
        assert len(await claimed(store, "a", [first, second, third[0]])) == 2
    finally:
        await store.close()


async def test_a_key_at_its_limit_lets_the_next_job_start_once_its_running_job_ended(
    store_url: str,
) -> None:
    store = PostgresStore(store_url)
    try:
        for key, told in (("k", True), ("m", False)):
            [first] = await store.enqueue([new(1, key=key)], NOW)
            assert await claimed(store, "a", []) == [first]
            [second] = await store.enqueue([new(2, key=key)], NOW)
            started = await claimed(store, "a", [first] if told else [])
            assert started == ([second] if told else [])  # else parked until `first` ends
    finally:
        await store.close()


async def test_a_version_7_store_gets_claim_locked_that_takes_the_ended_jobs(
    pg_server: PgServer, store_url: str
) -> None:
    schema = store_url.rsplit("schema=", 1)[1]
    await make_store_at(pg_server, schema, 7)
    # Version 7's function took seven arguments (no `finished`).
    pg_server.psql(
        f"SET search_path TO {schema}; DROP FUNCTION claim_locked; "
        "CREATE FUNCTION claim_locked(text, bigint, text[], integer, boolean, integer, integer) "
        "RETURNS integer LANGUAGE sql AS 'SELECT 1'; "
        "COMMENT ON FUNCTION claim_locked IS 'made by migration 7'"
    )
    store = PostgresStore(store_url)
    try:
        await store.set_queue("q", QueueChange(concurrency=1), NOW)  # claims take the lock
        [first, _] = await store.enqueue([new(1, "q"), new(2, "q")], NOW)
        jobs = await store.claim(owner="a", commands=["c"], named=False, limit=5, now=NOW)
        again = await store.claim(
            owner="a", commands=["c"], named=False, limit=5, now=NOW, finished=[first]
        )
    finally:
        await store.close()
    assert [j.id for j in jobs] == [first] and len(again) == 1
    assert int(pg_server.psql(f"SELECT version FROM {schema}.schema_version")) == LATEST_VERSION
    assert function_mark(pg_server, schema, "claim_locked") == "none"  # made again
    arguments = pg_server.psql(
        f"SELECT pronargs FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        f"WHERE n.nspname = '{schema}' AND p.proname = 'claim_locked'"
    )
    assert int(arguments) == 8


async def test_naming_ended_jobs_reads_no_more_of_the_table(store_url: str) -> None:
    """The ended jobs are left out of the running counts the claim reads anyway (a hash of
    their ids, `claim_sql.NOT_MINE`): looked up one by one by primary key, the 200 here cost
    the claim ~200 buffers more (~1,000 on a 20,000-job backlog; bench/README.md, issue 10's
    tenth pass)."""
    store = PostgresStore(store_url)
    try:
        await store.set_queue("q", QueueChange(concurrency=1000), NOW)
        await store.enqueue([new(i, "q") for i in range(300)], NOW)
        ended = [
            job.id
            for _ in range(2)
            for job in await store.claim(owner="a", commands=["c"], named=False, limit=100, now=NOW)
        ]
        assert len(ended) == 200

        async def read(conn: asyncpg.Connection, finished: list[int]) -> tuple[int, int]:
            """(jobs claimed, buffers read) of a claim naming `finished`, rolled back; its
            ids tested against a hash (one lookup each in a list of 200 is as slow)."""
            transaction = conn.transaction()
            await transaction.start()
            try:
                text = await conn.fetchval(
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + flow_claims.CLAIM_DEFAULT,
                    "a", NOW, ["c"], 10, True, 0, finished,
                )  # fmt: skip
            finally:
                await transaction.rollback()
            assert not finished or "hashed SubPlan" in text
            plan = json.loads(text)[0]["Plan"]
            return plan["Actual Rows"], plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]

        async def both(conn: asyncpg.Connection) -> list[tuple[int, int]]:
            await read(conn, [])  # plans made, catalogues cached
            return [await read(conn, []), await read(conn, ended)]

        (none, alone), (named, with_ended) = await store._db.one(both, engine=True)
    finally:
        await store.close()
    assert none == named == 10
    assert with_ended - alone < 100, (alone, with_ended)


async def test_a_version_11_store_with_started_jobs_gets_claim_locked_without_the_lookups(
    pg_server: PgServer, store_url: str
) -> None:
    schema = store_url.rsplit("schema=", 1)[1]
    await make_store_at(pg_server, schema, 11)
    pg_server.psql(f"COMMENT ON FUNCTION {schema}.claim_locked IS 'made by migration 11'")
    pg_server.psql(
        f"SET search_path TO {schema}; "
        "INSERT INTO job_queue (name, concurrency, updated_at) VALUES ('q', 2, 0); "
        "INSERT INTO background_job (id, created_date, command, request_type, request_body, "
        "worker, run_after, retry_limit, timeout_secs, state, queue, owner) "
        "SELECT nextval('job_id_seq'), 0, 'c', 'dict', '{}', '', 0, 0, 60, s, 'q', "
        "CASE WHEN s = 'started' THEN 'a' END "
        "FROM unnest(ARRAY['started', 'started', 'queued']) AS s"
    )
    started = [int(i) for i in pg_server.psql(
        f"SELECT id FROM {schema}.background_job WHERE state = 'started' ORDER BY id"
    ).split()]  # fmt: skip
    store = PostgresStore(store_url)  # opening it migrates the store
    try:
        assert await claimed(store, "a", []) == []  # the queue at its limit
        assert await claimed(store, "b", started) == []  # `a`'s jobs: `b` counts them
        assert len(await claimed(store, "a", started[:1])) == 1
    finally:
        await store.close()
    assert int(pg_server.psql(f"SELECT version FROM {schema}.schema_version")) == LATEST_VERSION
    source = function_mark(pg_server, schema, "claim_locked", body=True)
    assert source.startswith("none ") and "mine AS" not in source  # made again by migration 12
