"""Summaries written at archive on PostgreSQL (schema version 7): a store of version 5 (a
summary per job, written at enqueue) migrates by deleting the summaries of its live jobs;
a summary an older process still writes at enqueue beside this version is dropped when
the job's archive finds it (`StaleSummaryError`) and written again; ref_ids stay unique
across live and archived jobs."""

from __future__ import annotations

from typing import Any

import pytest

from jobs_core import DuplicateRefIdError, JobState
from jobs_core.store.idempotency import Resolution
from jobs_core.store.postgres import PostgresStore, conflicts
from jobs_core.store.postgres.schema import LATEST_VERSION
from jobs_core.store.protocol import NewJob, Transition
from tests.conftest import MakeJobs
from tests.pg_server import PgServer
from tests.postgres.old_stores import make_store_at

SEED = """
INSERT INTO {s}.job_summary (id, command, state, ref_id, created_date, completed_date)
VALUES (1, 'work', 'queued', 'r1', 1000, NULL), (2, 'work', 'completed', 'r2', 1000, 2000);
INSERT INTO {s}.background_job (id, command, state, ref_id, run_after, created_date,
    retry_limit, timeout_secs)
VALUES (1, 'work', 'queued', 'r1', 1000, 1000, 0, 60);
SELECT setval('{s}.job_id_seq', 2);
"""

STALE = """
INSERT INTO {s}.job_summary (id, command, state, ref_id, created_date)
VALUES ({id}, 'work', 'queued', 'r3', 1000)
"""
"""The summary a process of version 6 or older writes when it enqueues a job."""


def summaries(pg_server: PgServer, schema: str) -> list[tuple[str, str]]:
    out = pg_server.psql(f"SELECT id, state FROM {schema}.job_summary ORDER BY id")
    return [tuple(line.split("|")) for line in out.splitlines()]  # type: ignore[misc]


async def test_a_version_5_store_keeps_summaries_of_archived_jobs_only(
    pg_server: PgServer, store_url: str, make_jobs: MakeJobs
) -> None:
    schema = store_url.rsplit("schema=", 1)[1]
    await make_store_at(pg_server, schema, 5)
    pg_server.psql(SEED.format(s=schema))
    jobs = make_jobs(start_engine=False)
    jobs.command("work")(lambda: None)
    async with jobs:
        counts = await jobs.counts()  # opens the store, which migrates it
        migrated = summaries(pg_server, schema)
        live = await jobs.enqueue("work", ref_id="r3")
        pg_server.psql(STALE.format(s=schema, id=live.id))
        await jobs.run_until_idle()
        states = [(await jobs.get_job(i)).state for i in (1, 2, live.id)]
        for ref_id, holder in (("r1", 1), ("r2", 2), ("r3", live.id)):
            with pytest.raises(DuplicateRefIdError) as raised:
                await jobs.enqueue("work", ref_id=ref_id)
            assert raised.value.existing_id == holder
    assert int(pg_server.psql(f"SELECT version FROM {schema}.schema_version")) == LATEST_VERSION
    assert migrated == [("2", "completed")]
    assert (counts[JobState.QUEUED], counts[JobState.COMPLETED]) == (1, 0)  # counters: none
    assert states == [JobState.COMPLETED] * 3
    assert summaries(pg_server, schema) == [
        ("1", "completed"), ("2", "completed"), (str(live.id), "completed"),
    ]  # fmt: skip


async def test_a_ref_id_archived_between_the_lookup_and_the_insert_stays_taken(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder is enqueued, run and archived by another engine while this enqueue is
    between its lookup (ref_id free) and its insert: the live table's unique index no
    longer holds the ref_id then, so the insert looks at the summaries after it."""
    ours, theirs = PostgresStore(store_url), PostgresStore(store_url)
    job = NewJob(command="c", request_type="", request_body="null", worker="", run_after=0,
                 retry_limit=0, timeout_secs=60, ref_id="X")  # fmt: skip
    holder: list[int] = []
    lookup = conflicts.resolve_in
    raced = False

    async def lookup_then_race(conn: Any, jobs: list[NewJob]) -> Resolution:
        nonlocal raced
        found = await lookup(conn, jobs)
        if not raced:  # the first lookup, ours: theirs runs this function too
            raced = True
            holder.extend(await theirs.enqueue([job], now=1))
            [claimed] = await theirs.claim(owner="e", commands=["c"], named=False, limit=1, now=2)
            done = Transition(job_id=claimed.id, state=JobState.COMPLETED, owner_guard="e")
            await theirs.finish([done], [], now=3)
        return found

    monkeypatch.setattr(conflicts, "resolve_in", lookup_then_race)
    try:
        with pytest.raises(DuplicateRefIdError) as raised:
            await ours.enqueue([job], now=4)
        archived = await ours.get_job_by_ref("X")
    finally:
        await ours.close()
        await theirs.close()
    assert raised.value.existing_id == holder[0]
    assert archived is not None and archived.summary.state is JobState.COMPLETED


async def test_the_archive_pass_replaces_a_stale_summary_too(
    pg_server: PgServer, store_url: str, make_jobs: MakeJobs
) -> None:
    """A job cancelled at enqueue (its parent failed) stays live until the archive pass moves
    it; a summary an older process wrote for it is dropped and written again there."""
    schema = store_url.rsplit("schema=", 1)[1]
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def work() -> None:
        raise RuntimeError("down")

    async with jobs:
        parent = await jobs.enqueue("work", retry_limit=0)
        await jobs.run_until_idle()
        child = await jobs.enqueue("work", depends_on=parent.id)
        live = summaries(pg_server, schema)
        pg_server.psql(STALE.format(s=schema, id=child.id))
        await jobs.run_until_idle()
        found = await jobs.get_job(child.id)
    assert live == [(str(parent.id), "failed")]  # the child is live: no summary
    assert found.state is JobState.CANCELLED and found.failed is not None
    assert summaries(pg_server, schema) == [
        (str(parent.id), "failed"),
        (str(child.id), "cancelled"),
    ]
