"""The job detail's attempts timeline: each attempt's outcome, duration and error; enter
shows its own log lines, `l` the whole log again."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from jobs_core import BackgroundJobs, JobContext, ManualClock
from jobs_tui import JobsApp
from jobs_tui.screens.detail import JobDetailScreen
from jobs_tui.widgets.attempts import AttemptsTable
from jobs_tui.widgets.detail_panes import LogTail

from .conftest import pause_until, until_loaded


async def flaky_store(directory: str, clock: ManualClock) -> int:
    jobs = BackgroundJobs(directory, clock=clock, start_engine=False)

    @jobs.command
    async def flaky(ctx: JobContext) -> str:
        ctx.log.info("try %d", ctx.job.attempts)
        if ctx.job.attempts < 3:
            raise ConnectionError(f"reset {ctx.job.attempts}")
        return "ok"

    async with jobs:
        ref = await jobs.enqueue("flaky", retry_limit=2)
        for _ in range(3):
            await jobs.run_until_idle()
            clock.advance(600)  # past each retry's backoff
    return ref.id


async def test_timeline_lists_attempts_and_enter_shows_one_attempts_log(tmp_path: Path) -> None:
    clock = ManualClock(1_800_000_000_000)
    directory = str(tmp_path / "store")
    job_id = await flaky_store(directory, clock)
    admin = BackgroundJobs(directory, create=False, start_engine=False, clock=clock)
    app = JobsApp(admin, clock=clock, poll_interval=0.05)
    try:
        async with app.run_test(size=(140, 45)) as pilot:
            await until_loaded(pilot)
            app.push_screen(JobDetailScreen(job_id))
            await pause_until(
                pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen.loaded,
                "the detail",
            )  # fmt: skip
            table = app.screen.query_one(AttemptsTable)
            rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
            log = app.screen.query_one(LogTail)
            assert [r[:2] for r in rows] == [["1", "failed"], ["2", "failed"], ["3", "completed"]]
            assert rows[0][-1] == "ConnectionError: reset 1"
            table.focus()
            await pilot.press("home", "enter")
            await pilot.pause()
            title = str(app.screen.query_one("#log-title", Static).render())
            assert title.startswith("Log of attempt 1 (failed) on ")
            assert [line for line in log.lines if line] == ["08:00:00 INFO try 1"]
            await pilot.press("l")
            await pilot.pause()
            assert len([line for line in log.lines if line]) == 3
    finally:
        await admin.close()
