"""What only the PostgreSQL store has: concurrent claims across engines, migrations racing,
monthly partitions and their retention, the LISTEN/NOTIFY change token."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from datetime import UTC, datetime

import pytest

from jobs_core import (
    BackgroundJobs,
    BatchCancelledError,
    EnqueueRequest,
    JobContext,
    JobNotFoundError,
    JobState,
    ManualClock,
)
from jobs_core.store.postgres import PostgresStore
from jobs_core.store.postgres.schema import LATEST_VERSION
from jobs_core.store.protocol import NewJob, Transition
from tests.conftest import FAST, MakeJobs, wait_until
from tests.pg_server import PgServer
from tests.store.test_delete_attempts import lost_twice


def named_job(worker: str) -> NewJob:
    return NewJob(command="c", request_type="", request_body="null", worker=worker,
                  run_after=0, retry_limit=0, timeout_secs=60)  # fmt: skip


async def test_named_workers_stay_one_at_a_time_and_in_order_across_engines(
    store_url: str,
) -> None:
    stores = [PostgresStore(store_url) for _ in range(3)]
    workers = [f"w{n}" for n in range(4)]
    ids = await stores[0].enqueue([named_job(w) for _ in range(15) for w in workers], now=0)
    started: dict[str, list[int]] = {w: [] for w in workers}
    now = 1

    async def engine(store: PostgresStore, owner: str) -> None:
        nonlocal now
        for _ in range(200):
            jobs = await store.claim(owner=owner, commands=["c"], named=True, limit=10, now=now)
            for job in jobs:
                started[job.worker].append(job.id)
            await asyncio.sleep(0)
            done = [Transition(job_id=j.id, state=JobState.COMPLETED, owner_guard=owner)
                    for j in jobs]  # fmt: skip
            if done:
                await store.finish(done, [], now)
            now += 1
            if sum(len(v) for v in started.values()) == len(ids):
                return

    try:
        await asyncio.gather(*(engine(s, f"e{n}") for n, s in enumerate(stores)))
    finally:
        for store in stores:
            await store.close()
    for worker, order in started.items():
        expected = [i for n, i in enumerate(ids) if workers[n % len(workers)] == worker]
        assert order == expected, worker  # each job once, in order: never two at a time


async def test_two_processes_creating_a_store_at_once_do_not_race(store_url: str) -> None:
    stores = [PostgresStore(store_url) for _ in range(4)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        assert await stores[0].counts() == {state: 0 for state in JobState}
    finally:
        for store in stores:
            await store.close()


async def test_schema_version_table_holds_the_latest_version(
    pg_server: PgServer, store_url: str
) -> None:
    store = PostgresStore(store_url)
    await store.open()
    await store.close()
    version = pg_server.psql(f"SELECT version FROM {store.schema}.schema_version")
    assert int(version) == LATEST_VERSION


async def test_months_are_partitions_created_on_demand_and_dropping_one_is_retention(
    pg_server: PgServer, make_jobs: MakeJobs, store_url: str
) -> None:
    clock = ManualClock(datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC))
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def noop(ctx: JobContext) -> None:
        clock.advance(0.5)

    async with jobs:
        october = await jobs.enqueue("noop")
        await jobs.run_until_idle()  # finished 2026-10-31 23:59:59.5
        november = await jobs.enqueue("noop")
        await jobs.run_until_idle()  # finished 2026-11-01 00:00:00
        months = await jobs.months()
        assert [m.month for m in months] == ["2026-11", "2026-10"]
        schema = store_url.rsplit("schema=", 1)[1]
        assert months[1].path == f"{schema}.completed_job_2026_10, {schema}.failed_job_2026_10"
        assert all(m.size_bytes > 0 for m in months)
        assert [j.id for j in (await jobs.list_completed("2026-10")).items] == [october.id]
        # Retention: detach (to keep elsewhere) and drop a past month.
        for table in ("completed_job", "failed_job"):
            pg_server.psql(
                f"ALTER TABLE {schema}.{table} DETACH PARTITION {schema}.{table}_2026_10; "
                f"DROP TABLE {schema}.{table}_2026_10"
            )
        assert [m.month for m in await jobs.months()] == ["2026-11"]
        with pytest.raises(JobNotFoundError):  # its row was its summary: forgotten
            await jobs.get_job(october.id)
        assert (await jobs.get_job(november.id)).completed is not None
        assert (await jobs.list_completed("2026-10")).items == []


async def test_change_token_moves_on_other_connections_commits_only(
    make_jobs: MakeJobs,
) -> None:
    watcher = make_jobs(start_engine=False)
    writer = make_jobs(start_engine=False)
    for jobs in (watcher, writer):
        jobs.command("noop")(lambda: None)
    await watcher.counts()
    first = watcher.change_token()
    await wait_until(lambda: watcher.change_token() != first, what="the listener to connect")
    before = watcher.change_token()
    await watcher.enqueue("noop")  # our own commit: not a change by another process
    await asyncio.sleep(0.2)
    mine = watcher.change_token()
    await writer.enqueue("noop")
    await wait_until(lambda: watcher.change_token() != mine, timeout=2, what="a notification")
    assert mine - before <= 1  # at most the fallback probe, never our own notifications


async def test_idle_engine_wakes_at_a_notification_not_at_its_next_poll(
    make_jobs: MakeJobs,
) -> None:
    """With polls 10 s apart (and the engine's own once-a-second tick), only the NOTIFY of
    another connection's enqueue can start its jobs in a few milliseconds."""
    slow_polls = dataclasses.replace(FAST, poll_active_secs=10.0, poll_idle_secs=10.0)
    engine = make_jobs(settings=slow_polls)
    producer = make_jobs(start_engine=False)
    started: dict[int, float] = {}

    @engine.command
    async def stamp(ctx: JobContext) -> None:
        started[ctx.job.id] = time.monotonic()

    producer.command("stamp")(lambda: None)
    delays: list[float] = []
    async with engine:
        await wait_until(lambda: engine.store.change_token() > 0, what="the listener")
        for pause in (0.13, 0.31, 0.57, 0.21, 0.43):
            await asyncio.sleep(pause)  # at a different moment of the tick each time
            sent = time.monotonic()
            job = await producer.enqueue("stamp")
            await wait_until(lambda: job.id in started, what="the job to start")  # noqa: B023
            delays.append(started[job.id] - sent)
    assert statistics.median(delays) < 0.2, delays  # a tick would take ~0.5 s on average


async def test_listener_reconnects_and_cross_process_cancel_still_arrives(
    pg_server: PgServer, make_jobs: MakeJobs
) -> None:
    jobs = make_jobs()
    admin = make_jobs(start_engine=False)
    started = asyncio.Event()

    @jobs.command
    async def long(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(60)

    async with jobs:
        ref = await jobs.enqueue("long", retry_limit=0)
        await asyncio.wait_for(started.wait(), 10)
        # Cut every listening connection: the engine's listener must come back by itself.
        pg_server.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
        )
        await asyncio.sleep(0.5)
        await admin.cancel(ref.id, "from the admin app")
        loop = asyncio.get_running_loop()
        t0 = loop.time()

        async def cancelled() -> bool:
            return (await jobs.get_job(ref.id)).state is JobState.CANCELLED

        await wait_until(cancelled, timeout=5, what="the cancel")
        assert loop.time() - t0 < 1.0


async def test_enqueued_job_ids_follow_input_order_in_a_batch(make_jobs: MakeJobs) -> None:
    jobs: BackgroundJobs = make_jobs(start_engine=False)
    jobs.command("noop")(lambda: None)
    refs = await jobs.enqueue_many([EnqueueRequest(command="noop", tag=str(n)) for n in range(300)])
    tags = [(await jobs.get_job(r.id)).summary.tag for r in refs[::37]]
    assert tags == [str(n) for n in range(0, 300, 37)]


async def test_cancel_batch_returns_every_job_that_got_in_while_enqueues_race_it(
    store_url: str,
) -> None:
    """Enqueues into a batch race its cancel from other connections: each either got in
    before the cancel (and the cancel returns it) or is refused; none slips in unseen."""
    stores = [PostgresStore(store_url) for _ in range(5)]
    job = dataclasses.replace(named_job(""), batch_id="b")
    admitted: list[int] = []
    refused = 0

    async def producer(store: PostgresStore) -> None:
        nonlocal refused
        for _ in range(400):
            try:
                admitted.extend(await store.enqueue([job, job], now=0))
            except BatchCancelledError:
                refused += 1
                return

    try:
        await stores[0].enqueue([job], now=0)
        tasks = [asyncio.create_task(producer(s)) for s in stores[1:]]
        await wait_until(lambda: len(admitted) >= 8, what="enqueues under way")
        returned = await stores[0].cancel_batch("b", "enough", now=1)
        await asyncio.gather(*tasks)
    finally:
        for store in stores:
            await store.close()
    assert refused == len(tasks)  # every producer met the cancel
    assert sorted(returned) == sorted([returned[0], *admitted])  # all that got in, once


async def test_deleting_a_job_deletes_its_attempt_rows(pg_server: PgServer, store_url: str) -> None:
    store = PostgresStore(store_url)
    job_id = await lost_twice(store)
    outcome = await store.delete_jobs([job_id], now=5_000)
    await store.close()
    assert outcome.done == [job_id]
    assert int(pg_server.psql(f"SELECT count(*) FROM {store.schema}.job_attempt")) == 0


async def test_store_connections_run_without_jit(store_url: str) -> None:
    # With JIT on, the server compiled the claim on every call once the backlog made its
    # estimated cost large (4.5 s a claim with 93k queued: engines starved in bench/soak.py).
    store = PostgresStore(store_url)
    await store.open()
    try:
        engine_side = await store._db.one(lambda c: c.fetchval("SHOW jit"), engine=True)
        admin_side = await store._read(lambda c: c.fetchval("SHOW jit"))
    finally:
        await store.close()
    assert (engine_side, admin_side) == ("off", "off")
