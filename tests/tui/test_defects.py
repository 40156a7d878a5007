"""The nine defects of the operator console (issue 12), each pinned by a pilot test."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from jobs_core import (
    BackgroundJobs,
    Clock,
    EnqueueRequest,
    JobContext,
    JobState,
    ManualClock,
    Settings,
)
from jobs_tui import JobsApp
from jobs_tui.demo_seed import SEED_NOW_MS
from jobs_tui.screens.help import HelpScreen
from jobs_tui.widgets.keyed_table import KeyedTable

from .conftest import pause_until, screen_text, until_loaded

T0 = SEED_NOW_MS


def row_keys(app: JobsApp, selector: str = "#jobs") -> list[str]:
    table = app.screen.query_one(selector, KeyedTable)
    return [row.key.value or "" for row in table.ordered_rows]


def selected_key(app: JobsApp, selector: str = "#jobs") -> str | None:
    table = app.screen.query_one(selector, KeyedTable)
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


def line_with(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), "")


def row_line(text: str, job_id: int) -> str:
    """The table line of job `job_id` (its id is the first cell, right-aligned)."""
    pattern = re.compile(rf"^\s*{job_id}\s\s")
    return next((line for line in text.splitlines() if pattern.match(line)), "")


@dataclass
class Live:
    """A fresh store: an engine facade (in this process) and the admin facade the app uses."""

    engine: BackgroundJobs
    admin: BackgroundJobs
    directory: str


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    directory = str(tmp_path / "live")
    settings = Settings(retry_backoff_secs=0.0, archive_secs=0.05)
    engine = BackgroundJobs(directory, settings=settings, start_engine=False)

    @engine.command
    async def noop(req: dict[str, Any], ctx: JobContext) -> None:
        return None

    await engine.start()
    admin = BackgroundJobs(directory, create=False, start_engine=False)
    yield Live(engine=engine, admin=admin, directory=directory)
    await admin.close()
    await engine.stop()


@dataclass
class Hanging:
    """An engine in this process whose `hang` jobs run until released, and an admin facade."""

    engine: BackgroundJobs
    admin: BackgroundJobs
    release: asyncio.Event


MakeHanging = Callable[..., Awaitable[Hanging]]


@pytest.fixture
async def hanging(tmp_path: Path) -> AsyncIterator[MakeHanging]:
    made: list[Hanging] = []

    async def make(
        *, engine_clock: Clock | None = None, admin_clock: Clock | None = None,
        settings: Settings | None = None,
    ) -> Hanging:  # fmt: skip
        directory = str(tmp_path / f"hanging{len(made)}")
        engine = BackgroundJobs(directory, clock=engine_clock, settings=settings)
        release = asyncio.Event()

        @engine.command
        async def hang(req: dict[str, Any], ctx: JobContext) -> None:
            await release.wait()

        await engine.start()
        admin = BackgroundJobs(directory, create=False, start_engine=False, clock=admin_clock)
        made.append(Hanging(engine=engine, admin=admin, release=release))
        return made[-1]

    yield make
    for each in made:
        each.release.set()
        await each.admin.close()
        await each.engine.stop()


async def run_noops(jobs: BackgroundJobs, count: int) -> None:
    await jobs.enqueue_many([EnqueueRequest(command="noop", request={"n": i})
                             for i in range(count)])  # fmt: skip
    await jobs.run_until_idle()


async def true_order(admin: BackgroundJobs, limit: int) -> list[str]:
    month = (await admin.months())[0].month
    page = await admin.list_completed(month, limit=limit)
    return [str(job.id) for job in page.items]


# -- 1. lists keep every row, in order, capped ---------------------------------------------


async def test_defect1_completed_list_has_no_hole_after_300_jobs_finish_while_away(
    live: Live,
) -> None:
    await run_noops(live.engine, 150)
    app = JobsApp(live.admin, poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await until_loaded(pilot)
        await pause_until(pilot, lambda: len(row_keys(app)) == 100, "the first page")
        before = row_keys(app)
        await pilot.press("1")
        await until_loaded(pilot)
        await run_noops(live.engine, 300)
        await pilot.press("3")

        def refreshed() -> bool:
            # The refresh after the 300 landed: the rows changed, or they hold still under
            # the count of the jobs that arrived above them.
            footer = str(app.screen.query_one("#list-footer", Static).render())
            return row_keys(app) != before or "newer jobs above" in footer

        await pause_until(pilot, refreshed, "the list to refresh after the 300 jobs")
        shown = row_keys(app)
        everything = await true_order(live.admin, 1000)
        start = everything.index(shown[0])
        assert shown == everything[start : start + len(shown)], "a hole in the list"
        await pilot.press("m")
        await pause_until(pilot, lambda: len(row_keys(app)) > len(shown), "`m` to load more")
        shown = row_keys(app)
        start = everything.index(shown[0])
        assert shown == everything[start : start + len(shown)], "`m` broke the order"


async def test_defect1_rows_kept_are_capped(live: Live) -> None:
    await run_noops(live.engine, 1250)
    app = JobsApp(live.admin, poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await until_loaded(pilot)
        for loaded in range(200, 1300, 100):
            await pilot.press("m")
            await pause_until(
                pilot, lambda n=loaded: len(row_keys(app)) == min(n, 1000), f"{loaded} rows"
            )
        assert len(row_keys(app)) == 1000
        shown = row_keys(app)
        everything = await true_order(live.admin, 1250)
        start = everything.index(shown[0])
        assert shown == everything[start : start + 1000]


# -- 2. the cursor stays on its job ---------------------------------------------------------


async def test_defect2_cursor_stays_on_its_job_when_a_job_above_leaves(
    app: JobsApp, admin: BackgroundJobs
) -> None:
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.press("2")
        await until_loaded(pilot)
        await pilot.press("down", "down")
        assert selected_key(app) == "12"
        await admin.cancel(10)
        await pause_until(pilot, lambda: "10" not in row_keys(app), "job 10 to leave")
        assert selected_key(app) == "12"
        await admin.cancel(12)
        await pause_until(pilot, lambda: "12" not in row_keys(app), "job 12 to leave")
        assert selected_key(app) == "13"
        await pause_until(
            pilot, lambda: "Job 12 left the list" in screen_text(app), "a notice that 12 left"
        )


# -- 3. columns share the width; the full error shows ---------------------------------------


async def test_defect3_wide_screen_shows_the_whole_error_and_a_preview(
    live: Live,
) -> None:
    message = "could not reach the billing service at https://billing.internal/v2 " * 2

    @live.engine.command
    async def bill(req: dict[str, Any], ctx: JobContext) -> None:
        raise RuntimeError(message.strip())

    await live.engine.enqueue("bill", {}, retry_limit=0)
    await live.engine.run_until_idle()
    app = JobsApp(live.admin, poll_interval=0.05)
    async with app.run_test(size=(240, 50)) as pilot:
        await pilot.press("4")
        await until_loaded(pilot)
        await pause_until(
            pilot, lambda: message.strip() in str(app.screen.query_one("#preview").render()),
            "the preview to show the whole error",
        )  # fmt: skip
        text = screen_text(app)
        row = line_with(text, "bill")
        assert message.strip()[:120] in row, "the error is cut in the table"
        preview = app.screen.query_one("#preview")
        assert message.strip() in str(preview.render())


# -- 4. every screen usable at 80x24 --------------------------------------------------------


async def test_defect4_narrow_screens_keep_error_state_help_and_quit(app: JobsApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await until_loaded(pilot)
        await pause_until(
            pilot, lambda: "template missing" in line_with(screen_text(app), "send_report"),
            "the failed job's row",
        )  # fmt: skip
        text = screen_text(app)
        assert "template missing for customer acme" in line_with(text, "send_report")
        footer = text.splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer
        assert not re.search(r"palette\S", footer)
        await pilot.press("5")
        await until_loaded(pilot)
        await pause_until(
            pilot, lambda: "paused" in line_with(screen_text(app), "weekly-digest"),
            "the paused task's row",
        )  # fmt: skip
        text = screen_text(app)
        assert "paused" in line_with(text, "weekly-digest")
        footer = text.splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer


# -- 5. queue rows say why a job waits --------------------------------------------------------


async def test_defect5_queue_rows_say_retry_blocked_and_due(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    directory = str(tmp_path / "q")
    settings = Settings(retry_backoff_secs=3.0, retry_jitter=0.0)
    engine = BackgroundJobs(directory, settings=settings, clock=clock, start_engine=False)

    @engine.command
    async def flaky(req: dict[str, Any], ctx: JobContext) -> None:
        ctx.progress(0.4, "half way")
        raise RuntimeError("try again")

    @engine.command
    async def later(req: dict[str, Any], ctx: JobContext) -> None:
        return None

    await engine.start()
    retrying = await engine.enqueue("flaky", {}, retry_limit=2)
    parent = await engine.enqueue("later", {}, run_after=timedelta(hours=2))
    child = await engine.enqueue("later", {}, depends_on=parent.id)
    await engine.run_until_idle()
    await engine.stop()
    admin = BackgroundJobs(directory, create=False, start_engine=False, clock=clock)
    app = JobsApp(admin, clock=clock, poll_interval=0.05)
    try:
        async with app.run_test(size=(160, 30)) as pilot:
            await pilot.press("2")
            await until_loaded(pilot)

            def reasons_shown() -> bool:
                text = screen_text(app)
                return (
                    "retry in" in row_line(text, retrying.id)
                    and "blocked by" in row_line(text, child.id)
                    and "due in" in row_line(text, parent.id)
                )

            await pause_until(pilot, reasons_shown, "the three rows' reasons")
            text = screen_text(app)
    finally:
        await admin.close()
    retry_line = row_line(text, retrying.id)
    assert "retry in 3s (2/3)" in retry_line
    assert "half way" not in retry_line and "40%" not in retry_line
    assert "blocked by #" + str(parent.id) in row_line(text, child.id)
    assert "ago" not in row_line(text, child.id)
    assert "due in 2h" in row_line(text, parent.id)


# -- 6. a dead engine is flagged ---------------------------------------------------------------


async def test_defect6_no_engine_banner(live: Live) -> None:
    app = JobsApp(live.admin, poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await until_loaded(pilot)
        await pause_until(
            pilot, lambda: "No engine is running on this store" in screen_text(app), "the banner"
        )


async def test_defect6_dead_engine_banner_and_orphaned_job(hanging: MakeHanging) -> None:
    admin_clock = ManualClock(T0 + 30_000)  # the engine's heartbeat is 30 s old
    live = await hanging(engine_clock=ManualClock(T0), admin_clock=admin_clock)
    job = await live.engine.enqueue("hang", {})
    deadline = time.monotonic() + 10
    while (await live.admin.get_job(job.id)).state is not JobState.STARTED:
        assert time.monotonic() < deadline, "the engine did not start the job"
        await asyncio.sleep(0.02)  # the engine runs in this loop: let it claim the job
    app = JobsApp(live.admin, clock=admin_clock, poll_interval=0.05)
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.press("2")
        await until_loaded(pilot)
        alert = app.screen.query_one("#alert")
        await pause_until(pilot, lambda: "last heartbeat 30s ago" in str(alert.render()),
                          "the banner")  # fmt: skip
        assert "orphaned" in row_line(screen_text(app), job.id)


# -- 7. help, escape, plurals, store path ----------------------------------------------------


async def test_defect7_help_is_grouped_with_the_screen_keys_first(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await until_loaded(pilot)
        await pilot.press("question_mark")
        await pause_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        text = screen_text(app)
    order = [text.find(title) for title in ("This screen", "Go to", "App")]
    assert -1 not in order and order == sorted(order)
    this_screen = text[order[0] : order[1]]
    assert "Cancel" in this_screen and "Cursor up" not in this_screen


async def test_defect7_dashboard_offers_no_detail_key(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await until_loaded(pilot)
        assert "Detail" not in screen_text(app).splitlines()[-1]


async def test_defect7_escape_clears_the_filter_then_goes_back(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await until_loaded(pilot)
        await pilot.press("slash", *"globex", "enter")
        await pause_until(pilot, lambda: row_keys(app) == ["14"], "the filtered queue")
        assert "1 job shown" in screen_text(app)
        await pilot.press("escape")
        await pause_until(pilot, lambda: len(row_keys(app)) > 1, "the filter to clear")
        await pilot.press("escape")
        await pause_until(pilot, lambda: app.current_mode == "dashboard", "back to the dashboard")


async def test_defect7_store_path_shows_in_the_header(
    admin: BackgroundJobs, seeded_dir: str
) -> None:
    app = JobsApp(admin, poll_interval=0.05)
    async with app.run_test(size=(200, 40)) as pilot:
        await until_loaded(pilot)
        assert seeded_dir in screen_text(app).splitlines()[0]


# -- 8. engine figures agree; throughput chart -------------------------------------------------


async def test_defect8_engine_running_count_matches_what_it_runs(hanging: MakeHanging) -> None:
    # No heartbeat during the test: its figures stay those of registration (running 0).
    live = await hanging(settings=Settings(heartbeat_secs=60))
    await live.engine.enqueue("hang", {})
    app = JobsApp(live.admin, poll_interval=0.05)
    async with app.run_test(size=(160, 40)) as pilot:
        await until_loaded(pilot)

        def running_cell() -> str:
            table = app.screen.query_one("#engines", DataTable)
            if not table.row_count:
                return ""
            return str(table.get_row_at(0)[table.get_column_index("running")])

        await pause_until(pilot, lambda: running_cell().strip() == "1", "Running 1")


async def test_defect8_throughput_chart_has_a_time_axis_and_two_series(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await until_loaded(pilot)
        # The chart is drawn once it has a size: wait for the times on its axis.
        await pause_until(
            pilot, lambda: re.search(r"09:0\d", screen_text(app)) is not None,
            "a time on the chart's axis",
        )  # fmt: skip
        text = screen_text(app)
    assert "completed" in text and "failed" in text


# -- 9. finished-looking screens ---------------------------------------------------------------


async def test_defect9_detail_shows_times_as_times_and_hides_empty_fields(app: JobsApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await until_loaded(pilot)
        await pilot.press("enter")
        await until_loaded(pilot)
        await pause_until(
            pilot, lambda: "scheduled task" in screen_text(app), "the detail's fields"
        )
        text = screen_text(app)
    assert "1793610480000" not in text
    assert "2026-11-02 09:08:00" in line_with(text, "scheduled for")
    assert "ref id" not in text and "reply to" not in text
    assert "scheduled task" in text and "thumbnails" in line_with(text, "scheduled task")


async def test_defect9_dashboard_engines_pane_fits_its_engines(hanging: MakeHanging) -> None:
    live = await hanging()
    app = JobsApp(live.admin, poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_loaded(pilot)
        engines = app.screen.query_one("#engines", DataTable)
        # Laid out with its row: the header and one line at least.
        await pause_until(pilot, lambda: engines.size.height >= 2, "the engines pane's layout")
        assert engines.row_count == 1
        assert engines.size.height <= 4, "one engine takes half the dashboard"
