"""CLI test helpers: run `python -m jobs_cli`, make stores, run a worker subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from jobs_core import BackgroundJobs, JobResult, JobState
from tests.cli.sample_app import app
from tests.conftest import wait_until

REPO = Path(__file__).resolve().parents[2]
SAMPLE_APP = "tests.cli.sample_app:app"

Cli = Callable[..., subprocess.CompletedProcess[str]]


def run_cli(
    *args: str, timeout: float = 90.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m jobs_cli ARGS` from the repository root, with its output captured; `env`
    adds to (or overrides) this process's environment. `timeout` only guards against a hung
    command (no speed claim): a loaded machine once took over 30 s to start one."""
    return subprocess.run(
        [sys.executable, "-m", "jobs_cli", *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, **env} if env else None,
    )  # fmt: skip


@pytest.fixture
def cli() -> Cli:
    return run_cli


@pytest.fixture
def store(tmp_path: Path) -> str:
    """An empty, existing store directory."""
    directory = str(tmp_path / "store")
    asyncio.run(BackgroundJobs(directory, start_engine=False).close())
    return directory


@pytest.fixture
async def admin(store: str) -> AsyncIterator[BackgroundJobs]:
    """A facade on the store without an engine, as a second process would have."""
    jobs = BackgroundJobs(store, create=False, start_engine=False)
    yield jobs
    await jobs.close()


class Worker:
    """A `jobs worker` subprocess on a store; stopped at teardown if still running."""

    def __init__(self, directory: str, *extra: str) -> None:
        command = [sys.executable, "-m", "jobs_cli", "worker", "--app", SAMPLE_APP, *extra]
        self.process = subprocess.Popen(
            [*command, directory], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip

    def terminate(self, timeout: float = 30.0) -> tuple[int, str]:
        """SIGTERM, then the exit code and stderr once it has drained."""
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, err


@pytest.fixture
def start_worker(store: str) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(*extra: str) -> Worker:
        worker = Worker(store, *extra)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.communicate(timeout=10)


async def wait_for_state(
    jobs: BackgroundJobs, job_id: int, states: set[JobState], timeout: float = 20.0
) -> JobResult:
    """Poll the store until job `job_id` is in one of `states`; fail after `timeout`."""

    async def reached() -> bool:
        return (await jobs.get_job(job_id)).state in states

    await wait_until(reached, timeout, f"job {job_id} to be {sorted(states)}")
    return await jobs.get_job(job_id)


async def wait_for_engine(jobs: BackgroundJobs, timeout: float = 20.0) -> None:
    """Poll the store until an engine is alive on it."""

    async def alive() -> bool:
        return any(e.alive for e in await jobs.engines())

    await wait_until(alive, timeout, "an engine to be alive")


async def run_engine_once(directory: str) -> None:
    """Start and stop an engine of the sample app, so the store knows its commands."""
    async with app(directory):
        pass
