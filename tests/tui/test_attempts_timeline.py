"""The job detail's attempts timeline: each attempt's outcome, duration and error; enter
shows its own log lines, `l` the whole log again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from textual.pilot import Pilot
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


@asynccontextmanager
async def flaky_detail(
    tmp_path: Path, size: tuple[int, int]
) -> AsyncIterator[tuple[JobsApp, Pilot[None]]]:
    """The admin app at `size` on the detail of `flaky_store`'s job (three attempts)."""
    clock = ManualClock(1_800_000_000_000)
    directory = str(tmp_path / "store")
    job_id = await flaky_store(directory, clock)
    admin = BackgroundJobs(directory, create=False, start_engine=False, clock=clock)
    app = JobsApp(admin, clock=clock, poll_interval=0.05)
    try:
        async with app.run_test(size=size) as pilot:
            await until_loaded(pilot)
            app.push_screen(JobDetailScreen(job_id))
            await pause_until(
                pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen.loaded,
                "the detail",
            )  # fmt: skip
            yield app, pilot
    finally:
        await admin.close()


async def test_timeline_lists_attempts_and_enter_shows_one_attempts_log(tmp_path: Path) -> None:
    async with flaky_detail(tmp_path, (140, 45)) as (app, pilot):
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


async def test_the_error_column_takes_the_width_left_and_nothing_scrolls_sideways(
    tmp_path: Path,
) -> None:
    async with flaky_detail(tmp_path, (80, 24)) as (app, pilot):
        table = app.screen.query_one(AttemptsTable)
        narrow = table.size.width
        assert table.virtual_size.width <= narrow  # was 101 columns in a pane of ~40
        # Narrow, the start time goes first; the outcome, time and error stay.
        assert not table.shows("started")
        assert all(table.shows(key) for key in ("outcome", "took", "error"))
        await pilot.resize_terminal(200, 40)
        await pause_until(pilot, lambda: table.size.width > narrow, "the wider pane")
        await pause_until(pilot, lambda: table.shows("started"), "the start time")
        assert table.virtual_size.width <= table.size.width
        assert str(table.get_row_at(0)[-1]) == "ConnectionError: reset 1"
        log = app.screen.query_one(LogTail)
        assert not log.show_horizontal_scrollbar and not log.show_vertical_scrollbar


async def test_a_running_attempt_shows_its_time_so_far(app: JobsApp) -> None:
    async with app.run_test(size=(160, 40)) as pilot:
        await until_loaded(pilot)
        app.push_screen(JobDetailScreen(17))  # the seed's job running for 1m35s
        await pause_until(
            pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen.loaded,
            "the detail",
        )  # fmt: skip
        table = app.screen.query_one(AttemptsTable)
        await pause_until(pilot, lambda: table.row_count == 1, "the attempt")
        number, outcome, _, took, _ = (str(cell) for cell in table.get_row_at(0))
        assert (number, outcome, took) == ("1", "running", "1m35s")
        clock = app.clock
        assert isinstance(clock, ManualClock)
        clock.advance(10)  # nothing changes in the store: the detail ticks while it runs
        await pause_until(pilot, lambda: str(table.get_row_at(0)[3]) == "1m45s", "1m45s")
