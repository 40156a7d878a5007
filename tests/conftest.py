"""Shared fixtures: store directories, facades that clean up, and waiting with a deadline."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jobs_core import BackgroundJobs, ManualClock, Settings
from tests.pg_server import PgServer, start_server

FAST = Settings(
    retry_backoff_secs=0.0,
    heartbeat_secs=0.2,
    lease_secs=2.0,
    poll_idle_secs=0.005,
    drain_timeout_secs=5.0,
)
"""Settings for tests: no retry backoff, quick heartbeats and short leases."""


async def wait_until(
    predicate: Callable[[], Awaitable[bool]] | Callable[[], bool],
    timeout: float = 10.0,
    what: str = "condition",
) -> None:
    """Poll `predicate` until it is true; fail the test naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


class LoopTicks:
    """Counts 5 ms ticks of the event loop while in use (`async with`): a loop blocked by
    a call that should have waited asynchronously ticks too few times."""

    def __init__(self) -> None:
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.005)
            self.count += 1

    async def __aenter__(self) -> LoopTicks:
        self._task = asyncio.ensure_future(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


@pytest.fixture
def store_dir(tmp_path: Path) -> str:
    return str(tmp_path / "jobs_data")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A private PostgreSQL server for this test process (each xdist worker has its own:
    starting one takes well under a second). Started only when a test asks for it; a
    machine without PostgreSQL fails these tests, it never skips them."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


def pg_url(server: PgServer) -> str:
    """A URL on a schema no other test uses (tests share the server, never a schema)."""
    return server.url(schema=f"t_{uuid.uuid4().hex[:12]}")


def create_store(location: str) -> None:
    """Create the store at `location` now (before processes race to), then close it."""

    async def create() -> None:
        jobs = BackgroundJobs(location, start_engine=False)
        try:
            await jobs.open()
        finally:
            await jobs.close()

    # In a thread of its own, so that async tests may call it too.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, create()).result()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))


MakeJobs = Callable[..., BackgroundJobs]


@pytest.fixture
async def make_jobs(store_dir: str) -> AsyncIterator[MakeJobs]:
    """Factory of facades on the test's store; every one made is closed at teardown."""
    made: list[BackgroundJobs] = []

    def make(directory: str | None = None, **kwargs: Any) -> BackgroundJobs:
        kwargs.setdefault("settings", FAST)
        jobs = BackgroundJobs(directory or store_dir, **kwargs)
        made.append(jobs)
        return jobs

    yield make
    for jobs in made:
        try:
            if jobs._engine is not None:
                await jobs.stop()
            else:
                await jobs.close()
        except Exception:
            pass
