"""A store of schema version 2 (flow control, before the history) migrates to the latest
when opened: the function `finish_jobs` of version 2 is replaced, batches get their counters,
and jobs queued before the migration run and keep their history from then on."""

from __future__ import annotations

import asyncpg

from jobs_core import JobContext, JobState
from jobs_core.store.postgres.schema import LATEST_VERSION, MIGRATIONS
from tests.conftest import MakeJobs
from tests.pg_server import PgServer

V2_FINISH = """
CREATE FUNCTION finish_jobs(p_max_log integer, p_now bigint, p_channel text, p_id bigint[],
    OUT applied_ids bigint[]) LANGUAGE plpgsql AS $$ BEGIN applied_ids := '{}'; END $$;
"""
"""A stand-in with the old signature: migration 3 must drop it to create its own."""

SEED = """
INSERT INTO job_summary (id, command, state, batch_id, created_date, completed_date)
VALUES (1, 'report', 'queued', 'b1', 1000, NULL), (2, 'report', 'completed', 'b1', 1000, 2000);
CREATE TABLE completed_job_1970_01 PARTITION OF completed_job FOR VALUES FROM (0) TO (2678400000);
INSERT INTO completed_job (id, command, state, batch_id, run_after, created_date, completed_date,
    retry_limit, timeout_secs)
VALUES (2, 'report', 'completed', 'b1', 1000, 1000, 2000, 2, 60);
INSERT INTO background_job (id, command, state, batch_id, run_after, created_date,
    retry_limit, timeout_secs, queue, priority)
VALUES (1, 'report', 'queued', 'b1', 1000, 1000, 2, 60, 'slow', 3);
INSERT INTO job_batch (batch_id, created_at) VALUES ('b1', 1000);
SELECT setval('job_id_seq', 2);
"""


async def make_v2_store(pg_server: PgServer, schema: str) -> None:
    conn = await asyncpg.connect(pg_server.url())
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"; SET search_path TO "{schema}"')
        await conn.execute("CREATE TABLE schema_version (version integer)")
        await conn.execute("INSERT INTO schema_version VALUES (2)")
        for step in (*MIGRATIONS[:2], V2_FINISH, SEED):
            await conn.execute(step)
    finally:
        await conn.close()


async def test_a_version_2_store_gains_the_history(
    pg_server: PgServer, store_url: str, make_jobs: MakeJobs
) -> None:
    schema = store_url.rsplit("schema=", 1)[1]
    await make_v2_store(pg_server, schema)
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def report(ctx: JobContext) -> str:
        ctx.log.info("done")
        return "ok"

    async with jobs:
        status = await jobs.batch_status("b1")
        await jobs.run_until_idle()
        done = await jobs.get_job(1)
        attempts = await jobs.attempts(1)
        found = await jobs.search("done")
    assert int(pg_server.psql(f"SELECT version FROM {schema}.schema_version")) == LATEST_VERSION
    assert status.total == 2 and status.counts == {JobState.QUEUED: 1, JobState.COMPLETED: 1}
    row = done.completed
    assert row is not None and (row.queue, row.priority) == ("slow", 3)
    assert [(a.number, a.outcome.value) for a in attempts] == [(1, "completed")]
    assert [j.id for j in found.items] == [1]
    functions = pg_server.psql(
        f"SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        f"WHERE n.nspname = '{schema}' AND p.proname = 'finish_jobs'"
    )
    assert int(functions) == 1
