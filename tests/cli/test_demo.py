"""`jobs demo --no-tui` runs the sample app's engine in a subprocess and keeps it busy."""

from __future__ import annotations

import os
from pathlib import Path

from jobs_core import BackgroundJobs, JobFilter, JobState
from tests.cli.conftest import Cli


async def test_demo_no_tui_produces_completed_failed_and_chained_jobs(
    cli: Cli, tmp_path: Path
) -> None:
    directory = str(tmp_path / "demo")
    result = cli("demo", directory, "--no-tui", "--duration", "5", timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"jobs demo: store in {directory}"
    assert any(" engines alive 1" in line for line in lines)
    assert lines[-1].endswith(f"; the store stays in {directory} (jobs tui {directory})")
    assert os.path.getsize(os.path.join(directory, "worker.log")) > 0

    jobs = BackgroundJobs(directory, create=False, start_engine=False)
    try:
        counts = await jobs.counts()
        assert counts[JobState.COMPLETED] > 0 and counts[JobState.FAILED] > 0
        month = (await jobs.months())[0].month
        reports = await jobs.list_completed(month, JobFilter(command="sales_report"))
        assert reports.items and all(job.depends_on for job in reports.items)
        assert not any(engine.alive for engine in await jobs.engines())
        if hasattr(jobs, "scheduled_tasks"):  # the scheduling API is landing separately
            tasks = await jobs.scheduled_tasks()
            assert sorted(t.name for t in tasks) == ["cleanup temp files", "sync inventory"]
    finally:
        await jobs.close()
