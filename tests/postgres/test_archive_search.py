"""The archive's text search on PostgreSQL (schema version 9): `search` is an ordinary column
that every insert into the archive computes (it was generated up to version 7). A store of
version 7 migrates, keeping its archived rows' vectors; jobs archived afterwards by
`finish_jobs` (completed, failed) and by the archive pass are found by their words."""

from __future__ import annotations

import asyncpg

from jobs_core import BackgroundJobs, JobState
from jobs_core.store.postgres import PostgresStore
from jobs_core.store.postgres.schema import LATEST_VERSION
from tests.conftest import MakeJobs, ManualClock
from tests.pg_server import PgServer
from tests.postgres.old_stores import make_store_at

SEED = """
CREATE TABLE {s}.completed_job_2026_11 PARTITION OF {s}.completed_job
    FOR VALUES FROM (1793491200000) TO (1796083200000);
INSERT INTO {s}.completed_job (id, command, state, tag, run_after, created_date,
    completed_date, retry_limit, timeout_secs)
VALUES (1, 'work', 'completed', 'zebra', 1000, 1000, 1794000000000, 0, 60);
INSERT INTO {s}.job_summary (id, command, state, created_date, completed_date)
VALUES (1, 'work', 'completed', 1000, 1794000000000);
SELECT setval('{s}.job_id_seq', 1);
"""
"""An archived job of November 2026, its vector written by version 7's generated column."""

GENERATED = """
SELECT string_agg(c.relname || ':' || a.attgenerated::text, ' ' ORDER BY c.relname)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = '{s}' AND a.attname = 'search' AND c.relkind IN ('r', 'p')
"""


async def found_ids(jobs: BackgroundJobs, word: str) -> list[int]:
    """The archived jobs the full-text search finds by `word` (it reads `search`)."""
    return [j.id for j in (await jobs.search(word)).items]


def generated(pg_server: PgServer, schema: str) -> str:
    """Each table with a `search` column, and ':s' where it is generated (':' where not)."""
    return pg_server.psql(GENERATED.format(s=schema)).strip()


async def test_a_version_7_store_keeps_its_vectors_and_archives_searchable_jobs(
    pg_server: PgServer, store_url: str, make_jobs: MakeJobs, clock: ManualClock
) -> None:
    schema = store_url.rsplit("schema=", 1)[1]
    await make_store_at(pg_server, schema, 7)
    pg_server.psql(SEED.format(s=schema))
    before = generated(pg_server, schema)
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def work(req: dict[str, str]) -> None:
        if req["animal"] == "okapi":
            raise ValueError("no okapi today")

    async with jobs:
        await jobs.enqueue("work", {"animal": "giraffe"})
        await jobs.enqueue("work", {"animal": "okapi"}, retry_limit=0)
        await jobs.run_until_idle()
        found = {w: await found_ids(jobs, w) for w in ("zebra", "giraffe", "okapi")}
    seeded = "completed_job:s completed_job_2026_11:s failed_job:s"
    assert before == seeded, "the seed is a version 7 store"
    assert generated(pg_server, schema) == (
        "completed_job: completed_job_2026_11: failed_job: failed_job_2026_11:"
    )
    assert int(pg_server.psql(f"SELECT version FROM {schema}.schema_version")) == LATEST_VERSION
    assert found == {"zebra": [1], "giraffe": [2], "okapi": [3]}


async def test_the_archive_pass_writes_the_vector(
    pg_server: PgServer, store_url: str, make_jobs: MakeJobs, clock: ManualClock
) -> None:
    """A job that ended in the live table (here set so by hand) is archived by the archive
    pass's statement, which computes its vector."""
    schema = store_url.rsplit("schema=", 1)[1]
    jobs = make_jobs(clock=clock, start_engine=False)
    jobs.command("work")(lambda: None)
    async with jobs:
        job = await jobs.enqueue("work", {"animal": "tapir"}, tag="stripes")
        now = clock.now_ms()
        conn = await asyncpg.connect(pg_server.url())
        try:
            await conn.execute(
                f"UPDATE {schema}.background_job SET state = 'completed', completed_date = $1 "
                "WHERE id = $2",
                now, job.id,
            )  # fmt: skip
        finally:
            await conn.close()
        store = PostgresStore(store_url)
        try:
            moved = await store.archive_finished(now, 100)
        finally:
            await store.close()
        found = [await found_ids(jobs, w) for w in ("tapir", "stripes")]
        state = (await jobs.get_job(job.id)).state
    assert moved == 1
    assert state is JobState.COMPLETED
    assert found == [[job.id], [job.id]]
