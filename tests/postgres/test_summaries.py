"""Summaries of archived jobs on PostgreSQL (schema version 10): read from the job's row in
its month's partition, with no second copy. A store of version 9 (a `job_summary` row per
archived job) migrates by dropping that table: its archived jobs keep their summaries (read
from their rows), ref_ids, children and dependents; a summary whose row was gone (its month
dropped by hand) leaves with its counts and edges. ref_ids stay unique across live and
archived jobs: `job_ref` holds an archived job's ref_id (its primary key), since the month
partitions cannot hold a unique index across months."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from jobs_core import BackgroundJobs, DuplicateRefIdError, JobNotFoundError, JobState, ManualClock
from jobs_core.store.idempotency import Resolution
from jobs_core.store.postgres import PostgresStore, conflicts
from jobs_core.store.postgres.schema import LATEST_VERSION
from jobs_core.store.protocol import NewJob, Transition
from jobs_core.store.url import parse_store_url
from tests.conftest import MakeJobs
from tests.contract.admin.test_delete_relations import count_rows
from tests.pg_server import PgServer
from tests.postgres.old_stores import make_store_at

NOV = 1794000000000
"""A time in November 2026."""

_JOB = "(id, command, state, ref_id, parent_id, depends_on, error, run_after, created_date,"
_JOB += " started_date, completed_date, attempts, retry_limit, timeout_secs)"
SEED_V9 = f"""
CREATE TABLE {{s}}.completed_job_2026_11 PARTITION OF {{s}}.completed_job
    FOR VALUES FROM (1793491200000) TO (1796083200000);
CREATE TABLE {{s}}.failed_job_2026_11 PARTITION OF {{s}}.failed_job
    FOR VALUES FROM (1793491200000) TO (1796083200000);
INSERT INTO {{s}}.completed_job {_JOB}
VALUES (1, 'work', 'completed', 'r1', NULL, NULL, NULL, 1000, 1000, 1500, {NOV}, 1, 0, 60);
INSERT INTO {{s}}.failed_job {_JOB}
VALUES (2, 'work', 'failed', 'r2', 1, 1, '{{{{"code": "Boom", "message": "down"}}}}', 1000,
        1000, 1600, {NOV}, 2, 1, 60);
INSERT INTO {{s}}.background_job {_JOB}
VALUES (4, 'work', 'queued', 'r4', 1, NULL, NULL, 1000, 1000, NULL, NULL, 0, 0, 60);
INSERT INTO {{s}}.job_summary (id, command, state, ref_id, parent_id, depends_on, created_date,
    started_date, completed_date, attempts, error_code, error_message)
VALUES (1, 'work', 'completed', 'r1', NULL, NULL, 1000, 1500, {NOV}, 1, NULL, NULL),
       (2, 'work', 'failed', 'r2', 1, 1, 1000, 1600, {NOV}, 2, 'Boom', 'down'),
       (3, 'work', 'completed', 'r3', NULL, NULL, 1000, 1500, 1000, 1, NULL, NULL);
INSERT INTO {{s}}.job_dependency (parent_id, child_id) VALUES (1, 2), (3, 4);
UPDATE {{s}}.job_count SET n = 2 WHERE state = 'completed';
UPDATE {{s}}.job_count SET n = 1 WHERE state = 'failed';
SELECT setval('{{s}}.job_id_seq', 4);
"""
"""A store as version 9 left it: job 1 completed and job 2 (its child and dependent) failed
in November 2026, each with its summary; job 3's summary alone (its month, January 1970,
dropped by hand), with an edge to job 4, live."""


def tables(pg_server: PgServer, schema: str) -> set[str]:
    out = pg_server.psql(
        f"SELECT tablename FROM pg_tables WHERE schemaname = '{schema}' AND tablename LIKE 'job_%'"
    )
    return set(out.split())


async def test_a_version_9_store_reads_archived_summaries_from_their_rows(
    pg_server: PgServer, store_url: str, make_jobs: MakeJobs
) -> None:
    schema = store_url.rsplit("schema=", 1)[1]
    await make_store_at(pg_server, schema, 9)
    pg_server.psql(SEED_V9.format(s=schema))
    jobs = make_jobs(start_engine=False)
    jobs.command("work")(lambda: None)
    async with jobs:
        counts = await jobs.counts()  # opens the store, which migrates it
        done, failed = [await jobs.get_job(i) for i in (1, 2)]
        with pytest.raises(JobNotFoundError):  # its row was its summary: job 3 is forgotten
            await jobs.get_job(3)
        by_ref = await jobs.get_job_by_ref("r2")
        children = [s.id for s in await jobs.children(1)]
        dependents = [s.id for s in await jobs.dependents(1)]
        for ref_id, holder in (("r1", 1), ("r2", 2), ("r4", 4)):
            with pytest.raises(DuplicateRefIdError) as raised:
                await jobs.enqueue("work", ref_id=ref_id)
            assert raised.value.existing_id == holder
        free = await jobs.enqueue("work", ref_id="r3")  # its holder was forgotten
    edges = pg_server.psql(f"SELECT parent_id, child_id FROM {schema}.job_dependency")
    assert int(pg_server.psql(f"SELECT version FROM {schema}.schema_version")) == LATEST_VERSION
    assert "job_summary" not in tables(pg_server, schema)
    assert (counts[JobState.COMPLETED], counts[JobState.FAILED]) == (1, 1)  # job 3 left them
    assert free.id == 5
    assert done.completed is not None and done.summary.started_date == 1500
    assert failed.failed is not None and by_ref.summary == failed.summary
    summary = failed.summary
    assert (summary.state, summary.error_code, summary.error_message) == (
        JobState.FAILED, "Boom", "down",
    )  # fmt: skip
    assert (summary.attempts, summary.parent_id, summary.completed_date) == (2, 1, NOV)
    assert children == [2, 4] and dependents == [2]
    assert edges.split() == ["1|2"]


def ok_and_boom(make_jobs: MakeJobs) -> BackgroundJobs:
    """Jobs with no engine of their own and two commands: `ok` completes, `boom` fails."""
    jobs = make_jobs(start_engine=False)
    jobs.command("ok")(lambda: None)

    @jobs.command
    async def boom() -> None:
        raise RuntimeError("down")

    return jobs


async def test_an_archived_job_is_written_once(
    pg_server: PgServer, store_url: str, make_jobs: MakeJobs
) -> None:
    """The finish moves the job's row to its month's partition and writes nothing else of
    it but its ref_id (`job_ref`); its summary, and its dependents', are read from there."""
    schema = store_url.rsplit("schema=", 1)[1]
    jobs = ok_and_boom(make_jobs)
    async with jobs:
        parent = await jobs.enqueue("ok", ref_id="p", tag="t")
        child = await jobs.enqueue("boom", depends_on=parent.id, retry_limit=0)
        await jobs.run_until_idle()
        found = await jobs.get_job_by_ref("p")
        failed = await jobs.get_job(child.id)
        dependents = [s.id for s in await jobs.dependents(parent.id)]
    rows = pg_server.psql(
        f"SELECT 'c', id FROM {schema}.completed_job UNION ALL "
        f"SELECT 'f', id FROM {schema}.failed_job UNION ALL "
        f"SELECT 'b', id FROM {schema}.background_job ORDER BY 2"
    )
    assert rows.split() == [f"c|{parent.id}", f"f|{child.id}"]
    assert "job_summary" not in tables(pg_server, schema)
    assert found.completed is not None and found.summary.tag == "t"
    assert found.summary.completed_date == found.completed.completed_date
    assert failed.summary.error_code == "RuntimeError" and failed.summary.depends_on == parent.id
    assert dependents == [child.id]


async def test_a_ref_id_archived_between_the_lookup_and_the_insert_stays_taken(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder is enqueued, run and archived by another engine while this enqueue is
    between its lookup (ref_id free) and its insert: the live table's unique index no
    longer holds the ref_id then, so the insert looks at the archive after it."""
    ours, theirs = PostgresStore(store_url), PostgresStore(store_url)
    job = NewJob(command="c", request_type="", request_body="null", worker="", run_after=0,
                 retry_limit=0, timeout_secs=60, ref_id="X")  # fmt: skip
    holder: list[int] = []
    lookup = conflicts.resolve_in
    raced = False
    # The month's partitions made first: made during the race, they would wait for our
    # transaction, whose lookup read the partitioned tables (and we wait for theirs).
    await theirs.enqueue([replace(job, ref_id=None)], now=0)
    [first] = await theirs.claim(owner="e", commands=["c"], named=False, limit=1, now=0)
    await theirs.finish([Transition(job_id=first.id, state=JobState.COMPLETED, owner_guard="e")],
                        [], now=0)  # fmt: skip

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


def ms(when: datetime) -> int:
    return round(when.timestamp() * 1000)


async def test_purge_takes_the_counts_and_edges_of_the_jobs_it_removes(
    store_url: str, make_jobs: MakeJobs
) -> None:
    """Deleting a summary took its job out of the counts and its ref_id and dependency edges
    with it; with no summaries, dropping a whole month (August) and deleting rows (October,
    but the newest job) do."""
    clock = ManualClock(datetime(2026, 8, 10, tzinfo=UTC))
    jobs = make_jobs(clock=clock, start_engine=False)
    jobs.command("work")(lambda: None)
    async with jobs:
        for month in (8, 10):
            clock.set(ms(datetime(2026, month, 10, tzinfo=UTC)))
            parents = [(await jobs.enqueue("work", ref_id=f"{month}-{i}")).id for i in range(2)]
            newest = await jobs.enqueue("work", depends_on=parents)
            await jobs.run_until_idle()
        edges = await count_rows(store_url, "job_dependency")
        clock.set(ms(datetime(2026, 11, 20, tzinfo=UTC)))
        report = await jobs.purge(timedelta(days=30))
        counts = await jobs.counts()
        kept = await jobs.get_job(newest.id)
        left = await count_rows(store_url, "job_dependency")
        taken = await refs(store_url)
    assert (report.months_dropped, report.total) == (["2026-08"], 5)
    assert edges == 4 and left == 0 and taken == []
    assert counts[JobState.COMPLETED] == 1 and kept.state is JobState.COMPLETED  # the newest


async def refs(store_url: str) -> list[str]:
    """`job_ref`'s rows, 'ref_id:id', in ref_id order."""
    url = parse_store_url(store_url)
    conn = await asyncpg.connect(url.dsn)
    try:
        rows = await conn.fetch(f"SELECT ref_id, id FROM {url.schema}.job_ref ORDER BY ref_id")
    finally:
        await conn.close()
    return [f"{r[0]}:{r[1]}" for r in rows]


async def test_an_archived_ref_id_is_in_job_ref_until_its_job_leaves_the_archive(
    store_url: str, make_jobs: MakeJobs
) -> None:
    """A job with a ref_id archived puts it in `job_ref` (one probe finds it); requeued, the
    job holds it in the live table again; deleted, it frees it."""
    jobs = ok_and_boom(make_jobs)

    async with jobs:
        done = await jobs.enqueue("ok", ref_id="a")
        failed = await jobs.enqueue("boom", ref_id="b", retry_limit=0)
        await jobs.enqueue("ok")
        await jobs.run_until_idle()
        archived = await refs(store_url)
        await jobs.requeue(failed.id)
        requeued = await refs(store_url)
        live = await jobs.get_job_by_ref("b")
        with pytest.raises(DuplicateRefIdError) as raised:
            await jobs.enqueue("ok", ref_id="b")
        await jobs.delete(done.id)
        again = await jobs.enqueue("ok", ref_id="a")
        left = await refs(store_url)
    assert archived == [f"a:{done.id}", f"b:{failed.id}"]
    assert requeued == [f"a:{done.id}"] and live.state is JobState.QUEUED
    assert raised.value.existing_id == failed.id
    assert again.id not in (done.id, failed.id) and left == []
