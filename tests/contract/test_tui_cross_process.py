"""The app against a real engine in another process: live progress, then cancel."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobs_core import BackgroundJobs, JobContext, JobState
from jobs_tui import JobsApp
from jobs_tui.screens.confirm import ConfirmScreen
from jobs_tui.widgets.keyed_table import KeyedTable
from tests.conftest import create_store
from tests.tui.conftest import pause_until, until_loaded

ENGINE_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    from jobs_core import BackgroundJobs, JobContext

    directory, sentinel = sys.argv[1], sys.argv[2]
    jobs = BackgroundJobs(directory, create=False)

    @jobs.command
    async def count(req: dict, ctx: JobContext) -> None:
        i = 0
        while True:
            ctx.raise_if_cancelled()
            ctx.progress(i % 100 / 100, f"step {i}")
            i += 1
            await asyncio.sleep(0.05)

    async def main() -> None:
        async with jobs:
            while not os.path.exists(sentinel):
                await asyncio.sleep(0.05)

    asyncio.run(main())
    """
)


@pytest.fixture
def engine_dir(store_dir: str, tmp_path: Path) -> Iterator[str]:
    """A store with an engine running in a subprocess; stopped (or killed) at teardown."""
    directory = store_dir
    # create the store before the engine starts, so the two processes never race to do it
    create_store(directory)
    sentinel = tmp_path / "stop"
    process = subprocess.Popen([sys.executable, "-c", ENGINE_SCRIPT, directory, str(sentinel)])
    try:
        yield directory
    finally:
        sentinel.touch()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_queue_shows_live_progress_and_cancel_stops_the_running_job(
    engine_dir: str,
) -> None:
    jobs = BackgroundJobs(engine_dir, create=False, start_engine=False)

    @jobs.command
    async def count(req: dict[str, Any], ctx: JobContext) -> None:
        """Registered here only so enqueue accepts it; the other process runs it."""

    try:
        job_id = (await jobs.enqueue("count", {}, retry_limit=0)).id
        app = JobsApp(jobs, poll_interval=0.05)
        assert app.store_path == jobs.location  # the top bar names the store
        assert "jobs-test-secret" not in app.store_path  # a URL's password is masked
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await until_loaded(pilot)
            seen: set[str] = set()

            def progress_advanced() -> bool:
                table = app.screen.query_one(KeyedTable)
                if str(job_id) in table.rows:
                    value = str(table.get_cell(str(job_id), "progress"))
                    if value:
                        seen.add(value)
                return len(seen) >= 2

            await pause_until(pilot, progress_advanced, "two progress values", timeout=30)
            await pilot.press("c")
            await pause_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "modal")
            await pilot.press("y")

            async def cancelled() -> bool:
                return (await jobs.get_job(job_id)).state is JobState.CANCELLED

            deadline_checks = 0
            while not await cancelled():
                deadline_checks += 1
                assert deadline_checks < 200, "the job was not cancelled within 20 s"
                await pilot.pause(0.1)
    finally:
        await jobs.close()
