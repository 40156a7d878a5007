"""Enqueues and outcomes pass a column whose values are all the same as one element
(`arrays.packed`); each job still gets its own values, whether a column is shared, unset or
differs in one job only. And migration 5: `finish_jobs` learns whether a job is in a batch
from `ix_job_batch`, and `ix_job_state` (by state, queue and id) replaces `ix_job_running`;
a store of version 4 gains both when opened."""

from __future__ import annotations

import dataclasses

from jobs_core import JobContext, JobState
from jobs_core.records import JobError
from jobs_core.store.postgres import PostgresStore
from jobs_core.store.postgres.arrays import packed
from jobs_core.store.postgres.schema import LATEST_VERSION
from jobs_core.store.protocol import NewJob, Transition
from tests.conftest import MakeJobs
from tests.pg_server import PgServer
from tests.postgres.old_stores import finish_jobs_mark, make_store_at

NOW = 1_764_000_000_000


def new_job(n: int) -> NewJob:
    return NewJob(command="c", request_type="dict", request_body=f'{{"n": {n}}}', worker="",
                  run_after=NOW, retry_limit=2, timeout_secs=60.0)  # fmt: skip


def test_a_column_is_packed_only_when_its_values_are_all_the_same() -> None:
    assert packed(("a", "a", "a"), None) == ("a",)
    assert packed(("a", "b", "a"), None) == ("a", "b", "a")
    assert packed((None, None), None) is None
    assert packed((0, 0), 0) is None
    assert packed((0, 1), 0) == (0, 1)
    assert packed((), None) is None


async def test_jobs_enqueued_together_keep_their_own_values(store_url: str) -> None:
    odd_one = dataclasses.replace(
        new_job(4), command="d", worker="w", run_after=NOW + 5, retry_limit=7,
        timeout_secs=9.5, tag="t", priority=3, request_body='{"n": 4}',
    )  # fmt: skip
    store = PostgresStore(store_url)
    try:
        ids = await store.enqueue([new_job(1), new_job(2), new_job(3), odd_one], NOW)
        ids += await store.enqueue([new_job(5), new_job(5)], NOW)
        jobs = [await store.get_job(i) for i in ids]
    finally:
        await store.close()
    seen = [
        (j.command, j.request_body, j.worker, j.queue, j.run_after, j.retry_limit,
         j.timeout_secs, j.tag, j.priority, j.state)
        for j in (found.job for found in jobs if found is not None) if j is not None
    ]  # fmt: skip
    shared = ("c", "", "default", NOW, 2, 60.0, None, 0, JobState.QUEUED)
    assert seen == [
        (shared[0], '{"n": 1}', *shared[1:]),
        (shared[0], '{"n": 2}', *shared[1:]),
        (shared[0], '{"n": 3}', *shared[1:]),
        ("d", '{"n": 4}', "w", "w", NOW + 5, 7, 9.5, "t", 3, JobState.QUEUED),
        (shared[0], '{"n": 5}', *shared[1:]),
        (shared[0], '{"n": 5}', *shared[1:]),
    ]


async def test_outcomes_written_together_keep_their_own_values(store_url: str) -> None:
    store = PostgresStore(store_url)
    try:
        await store.enqueue([new_job(n) for n in range(4)], NOW)
        claimed = await store.claim(owner="e1", commands=["c"], named=False, limit=4, now=NOW)
        done = [
            Transition(job_id=j.id, state=JobState.COMPLETED, owner_guard="e1", duration_ms=3,
                       response_type="int", response_body="1")
            for j in claimed
        ]  # fmt: skip
        error = JobError(code="Boom", message="no")
        done[3] = dataclasses.replace(
            done[3], state=JobState.FAILED, duration_ms=8, response_type=None,
            response_body=None, error=error,
        )  # fmt: skip
        result = await store.finish(done, [], NOW + 10)
        rows = [await store.get_job(j.id) for j in claimed]
    finally:
        await store.close()
    assert sorted(result.applied) == sorted(j.id for j in claimed)
    seen = [
        (r.state, r.duration_ms, r.response_type, r.response_body, r.error, r.completed_date)
        for r in (found.job for found in rows if found is not None) if r is not None
    ]  # fmt: skip
    ok = (JobState.COMPLETED, 3, "int", "1", None, NOW + 10)
    assert seen == [ok, ok, ok, (JobState.FAILED, 8, None, None, error, NOW + 10)]


async def test_a_version_4_store_gets_the_batch_index_and_its_batches_still_count(
    pg_server: PgServer, store_url: str, make_jobs: MakeJobs
) -> None:
    schema = store_url.rsplit("schema=", 1)[1]
    await make_store_at(pg_server, schema, 4)
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def resize(ctx: JobContext) -> int:
        return 1

    async with jobs:
        batch = await jobs.create_batch(total=2)
        for n in range(2):
            await jobs.enqueue("resize", {"n": n}, batch_id=batch.id)
        alone = await jobs.enqueue("resize", {"n": 9})
        await jobs.run_until_idle()
        status = await batch.status()
        done = await jobs.get_job(alone.id)
    assert status.counts == {JobState.COMPLETED: 2}
    assert done.state is JobState.COMPLETED
    assert int(pg_server.psql(f"SELECT version FROM {schema}.schema_version")) == LATEST_VERSION
    indexes = dict(
        line.split("|", 1)
        for line in pg_server.psql(
            f"SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = '{schema}' "
            "AND tablename = 'background_job'"
        ).splitlines()
    )
    assert "(id) WHERE (batch_id IS NOT NULL)" in indexes["ix_job_batch"]
    assert "(state, queue, id)" in indexes["ix_job_state"]
    assert "ix_job_running" not in indexes
    assert finish_jobs_mark(pg_server, schema) == "none"
