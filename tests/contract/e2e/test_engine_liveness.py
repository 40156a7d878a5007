"""A SIGKILLed engine shows dead at once (not when its lease lapses) on its host, and once a
live engine has recovered its jobs, to every reader; `jobs status` flags it."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobs_core import BackgroundJobs, EngineState
from tests.chaos.harness import START_SECS, EnginePool, producer
from tests.cli.conftest import run_cli
from tests.conftest import create_store, wait_until

LONG_LEASE_APP = "tests.chaos.chaos_app:long_lease"


@pytest.fixture
async def pool(store_dir: str, tmp_path: Path) -> AsyncIterator[tuple[BackgroundJobs, EnginePool]]:
    create_store(store_dir)
    jobs = producer(store_dir)
    engines = EnginePool(store_dir, tmp_path, app=LONG_LEASE_APP)
    try:
        yield jobs, engines
    finally:
        engines.kill_all()
        await jobs.close()


async def start_and_kill_first(engines: EnginePool, n: int) -> subprocess.Popen[bytes]:
    """Start `n` engines, wait until they run, SIGKILL the first; returns it."""
    for _ in range(n):
        engines.start()
    await wait_until(engines.all_ready, timeout=START_SECS, what="engines")
    victim = engines.engines[0].process
    victim.kill()
    victim.wait()
    return victim


async def test_killed_engine_reads_dead_at_once_on_its_host_and_status_flags_it(
    pool: tuple[BackgroundJobs, EnginePool],
) -> None:
    jobs, engines = pool
    victim = await start_and_kill_first(engines, 1)
    # No wait: the lease (60 s) holds, yet the process is known gone on this host.
    [info] = await jobs.engines()
    assert (info.pid, info.alive, info.state) == (victim.pid, False, EngineState.DEAD)
    assert info.reason == f"its process {victim.pid} on {info.host} is gone"
    text = run_cli("status", engines.directory).stdout
    assert "# ENGINES: 0 alive, 0 stale, 1 dead, 0 stopped\n" in text
    assert f"  Status:       dead (its process {victim.pid} on {info.host} is gone)\n" in text
    assert f"  ! engine {info.id} is dead: its process {victim.pid}" in text


async def test_live_engine_records_its_killed_neighbour_dead_for_every_reader(
    pool: tuple[BackgroundJobs, EnginePool],
) -> None:
    jobs, engines = pool
    victim = await start_and_kill_first(engines, 2)

    async def recorded_dead() -> bool:
        # The store's own verdict, without this process's pid check: what a reader on
        # another host sees.
        rows = await jobs.store.engines(jobs.clock.now_ms())
        return any(e.pid == victim.pid and e.state is EngineState.DEAD for e in rows)

    # Well inside the 60 s lease, so only the survivor's check of the process can say dead.
    await wait_until(recorded_dead, timeout=30, what="the survivor recording the victim dead")
    rows = {e.pid: e for e in await jobs.store.engines(jobs.clock.now_ms())}
    assert rows[victim.pid].reason == f"its process {victim.pid} on {rows[victim.pid].host} is gone"
    assert rows[engines.engines[1].process.pid].state is EngineState.ALIVE
