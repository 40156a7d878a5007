"""The archive's copy into the month files runs in the store's thread, in the background of
the engine's dispatch loop: jobs start and run while it copies; another process's lock on
the month file is waited for in the thread (and given up on after `busy_timeout_secs`);
`stop` and `run_until_idle` wait for the copy under way; a cancelled caller keeps the
archive's connection until the thread is done with it; a full pass is followed by the next
at once. (PostgreSQL has no archive pass to speak of: a finished job leaves the live table
in the statement that finishes it.)"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from jobs_core import BackgroundJobs, EnqueueRequest, StoreBusyError
from jobs_core.engine import maintenance
from jobs_core.store.sqlite.archive import Copied, MonthArchive
from jobs_core.store.sqlite.off_loop import OffLoop
from tests.conftest import FAST, LoopTicks, MakeJobs, wait_until

ARCHIVING = replace(FAST, archive_secs=0.02)
RARELY = replace(FAST, archive_secs=3600.0, archive_batch=10)
"""A pass as the engine starts and as it stops, then none for an hour unless the one
before it was full."""


class HeldCopy:
    """`MonthArchive.copy_finished` made to wait, in whatever thread runs it, until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.threads: list[int] = []
        self.released_in_time: list[bool] = []
        real = MonthArchive.copy_finished

        def copy(archive: MonthArchive, limit: int, now: int, *, in_order: bool = False) -> Copied:
            self.threads.append(threading.get_ident())
            self.started.set()
            self.released_in_time.append(self.release.wait(10))
            return real(archive, limit, now, in_order=in_order)

        monkeypatch.setattr(MonthArchive, "copy_finished", copy)


async def archived(jobs: BackgroundJobs, month: str = "") -> int:
    months = await jobs.months()
    if not months:
        return 0
    page = await jobs.list_completed(month or months[0].month, limit=100)
    return len(page.items)


async def test_jobs_run_on_the_loop_while_the_archive_copies_in_its_thread(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldCopy(monkeypatch)
    jobs = make_jobs(settings=ARCHIVING)
    ran: list[str] = []

    @jobs.command
    async def note(req: dict[str, str]) -> None:
        ran.append(req["name"])
        if req["name"] == "during":  # the loop runs this while the copy waits in its thread
            held.release.set()

    async with jobs:
        await jobs.enqueue("note", {"name": "first"})
        await wait_until(lambda: held.started.is_set(), what="an archive pass to begin")
        await jobs.enqueue("note", {"name": "during"})
        await wait_until(lambda: held.release.is_set(), what="a job to run during the copy")
        await wait_until(lambda: archived(jobs), what="the first job archived")
        loop_thread = threading.get_ident()
    assert ran == ["first", "during"]
    assert held.released_in_time[0], "the copy held up the loop (it ran on the loop's thread)"
    assert loop_thread not in held.threads


async def test_stop_waits_for_the_copy_under_way(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldCopy(monkeypatch)
    jobs = make_jobs(settings=ARCHIVING)

    @jobs.command
    async def note(req: dict[str, str]) -> None:
        return None

    await jobs.start()
    for n in range(3):
        await jobs.enqueue("note", {"name": str(n)})
    await wait_until(lambda: held.started.is_set(), what="an archive pass to begin")
    stopping = asyncio.ensure_future(jobs.stop())
    await asyncio.sleep(0.2)
    assert not stopping.done()  # the copy still waits in the thread
    held.release.set()
    await asyncio.wait_for(stopping, 10)
    reader = make_jobs(start_engine=False)
    assert await archived(reader) == 3  # the pass under way, then the last one at stop


@contextmanager
def month_locked(path: str) -> Iterator[None]:
    """The month file's write lock, held by another connection (as by another process)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("COMMIT")
        conn.close()


@pytest.fixture
async def two_jobs(make_jobs: MakeJobs) -> AsyncIterator[tuple[BackgroundJobs, str]]:
    """A running store that archives only when asked (and once as its engine starts), with
    a first job archived (its month file then exists) and a second one run, not archived
    yet; the store and the month file's path."""
    jobs = make_jobs(settings=replace(FAST, busy_timeout_secs=0.3, archive_secs=3600.0))

    @jobs.command
    async def note(req: dict[str, str]) -> None:
        return None

    async with jobs:
        await jobs.enqueue("note", {"name": "first"})
        await jobs.run_until_idle()
        [month] = await jobs.months()
        await jobs.enqueue("note", {"name": "second"})
        await wait_until(lambda: jobs.engine.processed == 2, what="the second job")
        yield jobs, month.path


async def test_a_month_file_locked_elsewhere_is_waited_for_in_the_thread(
    two_jobs: tuple[BackgroundJobs, str],
) -> None:
    jobs, path = two_jobs
    async with LoopTicks() as ticks:
        with month_locked(path):
            archiving = asyncio.ensure_future(jobs.store.archive_finished(jobs.clock.now_ms(), 10))
            await asyncio.sleep(0.2)
            assert not archiving.done()
            assert ticks.count >= 10  # the loop ran on while the thread waited
        assert await asyncio.wait_for(archiving, 10) == 1
    assert await archived(jobs) == 2


async def test_a_month_file_locked_past_the_busy_timeout_fails_with_store_busy(
    two_jobs: tuple[BackgroundJobs, str],
) -> None:
    jobs, path = two_jobs
    with month_locked(path), pytest.raises(StoreBusyError, match=r"jobs\.db stayed locked"):
        await jobs.store.archive_finished(jobs.clock.now_ms(), 10)
    assert await jobs.store.archive_finished(jobs.clock.now_ms(), 10) == 1
    assert await archived(jobs) == 2


async def test_a_cancelled_call_returns_only_once_the_thread_is_done() -> None:
    off_loop = OffLoop("jobs.db", busy_timeout_secs=1.0)
    started, release = threading.Event(), threading.Event()

    def blocking() -> int:
        started.set()
        release.wait(10)
        return 1

    call = asyncio.ensure_future(off_loop.call(blocking))
    await wait_until(started.is_set, what="the call to start")
    call.cancel()
    await asyncio.sleep(0.1)
    assert not call.done()  # cancelled, yet waiting for the thread
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(call, 10)
    off_loop.close()


class JustBooted:
    """`time` as the engine's upkeep reads it on a machine up for a second: `monotonic()`
    counts from the boot, so "long ago" is not 0.0 there."""

    def __init__(self) -> None:
        self._boot = time.monotonic() - 1.0

    def monotonic(self) -> float:
        return time.monotonic() - self._boot


@pytest.mark.parametrize("booted", ["long ago", "a second ago"])
async def test_a_full_archive_pass_is_followed_by_the_next_at_once(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch, booted: str
) -> None:
    if booted == "a second ago":
        monkeypatch.setattr(maintenance, "time", JustBooted())
    first = make_jobs(settings=RARELY)
    second = make_jobs(settings=RARELY)
    for jobs in (first, second):

        @jobs.command
        async def note(req: dict[str, int]) -> None:
            return None

    async with first:
        await first.enqueue_many(
            [EnqueueRequest(command="note", request={"n": n}) for n in range(50)]
        )
        await wait_until(lambda: first.engine.processed == 50, what="50 jobs run")
    # The pass at stop archives one batch (and the engine's pass at its start may have met
    # some finished jobs on a slow machine): at least two batches wait in the live store.
    assert await archived(second) <= 30
    async with second:
        # Its first pass is full (10): the next ones follow, not an hour later.
        await wait_until(lambda: _all_archived(second), what="the other 40 archived")


async def _all_archived(jobs: BackgroundJobs) -> bool:
    return await archived(jobs) == 50
