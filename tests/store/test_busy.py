"""Another process holding the write lock: writes wait for it without blocking the event
loop, give up with StoreBusyError after `busy_timeout_secs`, and reads are not held up."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

import pytest

from jobs_core import StoreBusyError
from jobs_core.store.sqlite import connection
from jobs_core.store.sqlite.store import SqliteStore
from tests.conftest import FAST, LoopTicks, MakeJobs

PR_GET_TIMERSLACK = 30
R = TypeVar("R")


async def item(req: dict[str, int]) -> None:
    return None


@contextmanager
def locked(store_dir: str, name: str = "jobs.db") -> Iterator[sqlite3.Connection]:
    """The write lock of the store's file `name`, held by another connection (as by another
    process)."""
    conn = sqlite3.connect(f"{store_dir}/{name}", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
        conn.close()


async def waits_for_the_lock(holder: sqlite3.Connection, write: Awaitable[R]) -> R:
    """Start `write` while `holder` holds a write lock (`locked`): 0.2 s on it has not
    finished and the loop ran on meanwhile; once `holder` commits it finishes. Its result."""
    async with LoopTicks() as ticks:
        pending = asyncio.ensure_future(write)
        await asyncio.sleep(0.2)
        assert not pending.done()
        assert ticks.count >= 10  # the loop ran on while the write waited
        holder.execute("COMMIT")
    return await asyncio.wait_for(pending, 10)


async def test_busy_write_waits_for_the_lock_without_blocking_the_loop(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    await jobs.enqueue("item", {"n": 0})
    with locked(store_dir) as lock:
        # A ref_id, looked up as it is inserted: a plain job (or one with a queue or a
        # priority) goes to the inbox, which this lock does not hold.
        ref = await waits_for_the_lock(lock, jobs.enqueue("item", {"n": 1}, ref_id="t"))
    assert (await jobs.get_job(ref.id)).job is not None


async def test_busy_write_gives_up_after_the_busy_timeout(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = make_jobs(start_engine=False, settings=replace(FAST, busy_timeout_secs=0.2))
    jobs.command(item)
    await jobs.enqueue("item", {"n": 0})
    with locked(store_dir), pytest.raises(StoreBusyError, match=r"jobs\.db stayed locked"):
        await jobs.enqueue("item", {"n": 1}, ref_id="t")  # not for the inbox: `jobs.db`
    await jobs.enqueue("item", {"n": 2})
    assert await jobs.count_jobs() == 2


async def test_busy_reads_on_the_write_connection_are_not_held_up(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    later = await jobs.enqueue("item", {"n": 0}, run_after=timedelta(hours=1))
    due = (await jobs.get_job(later.id)).job.run_after  # type: ignore[union-attr]
    token = jobs.store.change_token()
    with locked(store_dir) as lock:
        lock.execute("INSERT INTO job_count (state, n) VALUES ('x', 0)")
        now = jobs.clock.now_ms()
        assert await jobs.store.next_due(now) == due
        assert await jobs.store.cancel_requested("nobody") == []
        assert jobs.store.change_token() == token  # not committed yet
    assert jobs.store.change_token() != token


async def test_a_claim_with_nothing_ready_takes_no_write_lock(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    # An engine beside a producer claims after each of its commits, mostly finding
    # nothing: such a claim reads, and never waits for the lock the producer needs.
    jobs = make_jobs(start_engine=False, settings=replace(FAST, busy_timeout_secs=0.2))
    jobs.command(item)
    claim = {"owner": "e", "commands": ["item"], "limit": 10, "now": jobs.clock.now_ms()}
    with locked(store_dir):
        assert await jobs.store.claim(named=False, **claim) == []  # an empty store
    ready = await jobs.enqueue("item", {"n": 1})
    claim["now"] = jobs.clock.now_ms()
    with locked(store_dir):
        assert await jobs.store.claim(named=True, **claim) == []  # no named worker's job
        with pytest.raises(StoreBusyError):  # something to claim: that needs the lock
            await jobs.store.claim(named=False, **claim)
    assert [j.id for j in await jobs.store.claim(named=False, **claim)] == [ready.id]
    with locked(store_dir):
        assert await jobs.store.claim(named=False, **claim) == []  # nothing ready now


@pytest.mark.skipif(connection._PRCTL is None, reason="timer slack is Linux's (prctl)")
async def test_a_write_polls_for_the_lock_with_fine_sleeps_then_restores_them(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    await jobs.enqueue("item", {"n": 0})  # the store is open and migrated
    store = jobs.store
    assert isinstance(store, SqliteStore)
    prctl = connection._PRCTL
    assert prctl is not None
    before = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)
    slack_at_tries: list[int] = []
    with locked(store_dir) as holder:

        def write() -> str:
            slack_at_tries.append(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0))
            if len(slack_at_tries) == 2:  # released once the first try found it held
                holder.execute("COMMIT")
            store._conn.execute("BEGIN IMMEDIATE")
            store._conn.execute("COMMIT")
            return "written"

        result = store._spin(write)
    # The first try is made with the thread's own slack; the poll after it (the spin's
    # first, however long its sleep took) with the fine one, which is then restored.
    assert result == "written"
    assert slack_at_tries == [before, connection.FINE_SLACK_NS]
    assert prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == before
