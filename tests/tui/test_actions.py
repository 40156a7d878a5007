"""Pilot tests: keys pressed in the app change the store through the public API."""

from __future__ import annotations

from jobs_core import BackgroundJobs, JobState
from jobs_tui import JobsApp
from jobs_tui.screens.archive import CompletedScreen, FailedScreen
from jobs_tui.screens.confirm import ConfirmScreen
from jobs_tui.screens.detail import JobDetailScreen
from jobs_tui.screens.help import HelpScreen
from jobs_tui.screens.queue import QueueScreen
from jobs_tui.widgets.detail_panes import LogTail
from jobs_tui.widgets.keyed_table import KeyedTable

from .conftest import pause_until, until_loaded, until_palette_offers


def row_keys(app: JobsApp) -> list[str]:
    table = app.screen.query_one(KeyedTable)
    return [row.key.value or "" for row in table.ordered_rows]


async def state_of(admin: BackgroundJobs, job_id: int) -> JobState:
    return (await admin.get_job(job_id)).state


async def test_queue_cancel_confirmed_cancels_the_queued_job(
    app: JobsApp, admin: BackgroundJobs
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        screen = await until_loaded(pilot)
        assert isinstance(screen, QueueScreen)
        assert row_keys(app)[0] == "10"
        await pilot.press("c")
        await pause_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the modal")
        await pilot.press("y")
        await pause_until(pilot, lambda: "10" not in row_keys(app), "job 10 to leave the queue")
    assert await state_of(admin, 10) is JobState.CANCELLED


async def test_queue_cancel_refused_leaves_the_job_queued(
    app: JobsApp, admin: BackgroundJobs
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await until_loaded(pilot)
        await pilot.press("c")
        await pause_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the modal")
        await pilot.press("n")
        await pause_until(pilot, lambda: isinstance(app.screen, QueueScreen), "the queue")
    assert await state_of(admin, 10) is JobState.QUEUED


async def test_failed_requeue_confirmed_puts_the_job_back_in_the_queue(
    app: JobsApp, admin: BackgroundJobs
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        screen = await until_loaded(pilot)
        assert isinstance(screen, FailedScreen)
        assert row_keys(app) == ["9", "5"]
        await pilot.press("down")  # job 5: failed with a traceback
        await pilot.press("r", "y")
        await pause_until(pilot, lambda: row_keys(app) == ["9"], "job 5 to leave the list")
    assert await state_of(admin, 5) is JobState.QUEUED


async def test_check_action_dims_actions_that_cannot_apply(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        screen = await until_loaded(pilot)
        assert isinstance(screen, CompletedScreen)
        assert screen.check_action("cancel", ()) is None
        assert screen.check_action("requeue", ()) is None
        assert screen.check_action("load_more", ()) is None
        await pilot.press("2")
        queue = await until_loaded(pilot)
        assert queue.check_action("cancel", ()) is True
        assert queue.check_action("requeue", ()) is None


async def test_queue_filter_by_command_shows_only_matching_jobs(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await until_loaded(pilot)
        await pilot.press("slash", *"command:send_report", "enter")
        await pause_until(pilot, lambda: row_keys(app) == ["14", "19"], "the filtered queue")
        assert "filter: command:send_report" in str(app.screen.query_one("#list-footer").render())


async def test_archive_text_search_finds_the_job(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await until_loaded(pilot)
        await pilot.press("slash", *"customers.csv", "enter")
        await pause_until(pilot, lambda: row_keys(app) == ["7"], "the search result")


async def test_enter_opens_the_detail_and_escape_goes_back(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await until_loaded(pilot)
        await pilot.press("enter")
        detail = await until_loaded(pilot)
        assert isinstance(detail, JobDetailScreen)
        assert detail.job_id == 16  # the newest completed job: the "thumbnails" task run
        assert "resizing /img/thumbs.png" in "\n".join(detail.query_one("#log", LogTail).lines)
        await pilot.press("escape")
        await pause_until(pilot, lambda: isinstance(app.screen, CompletedScreen), "the list")


async def test_theme_key_toggles_dark_and_light(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.theme == "jobs-dark"
        await pilot.press("t")
        assert app.theme == "jobs-light"
        await pilot.press("t")
        assert app.theme == "jobs-dark"


async def test_help_lists_the_keys_and_closes_on_escape(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await until_loaded(pilot)
        await pilot.press("question_mark")
        await pause_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        descriptions = {description for _, description in help_screen.keys}
        assert {"Cancel", "Requeue", "Filter", "Quit"} <= descriptions
        await pilot.press("escape")
        await pause_until(pilot, lambda: isinstance(app.screen, QueueScreen), "the queue")


async def test_palette_switches_screens(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await until_loaded(pilot)
        await pilot.press("ctrl+p", *"Show Workers")
        await until_palette_offers(pilot, "Show Workers")
        await pilot.press("enter")
        await pause_until(pilot, lambda: app.current_mode == "workers", "the workers view")
