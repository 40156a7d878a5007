"""The filter input (query language, completions, named errors) and marks with bulk actions."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from jobs_core import BackgroundJobs, JobNotFoundError, JobState
from jobs_tui import JobsApp
from jobs_tui.screens.archive import ALL_MONTHS, CompletedScreen
from jobs_tui.screens.confirm import ConfirmScreen

from .conftest import pause_until, screen_text, until_loaded
from .test_actions import row_keys, state_of


def footer(app: JobsApp) -> str:
    return str(app.screen.query_one("#list-footer").render())


async def test_filter_completes_keys_and_values_then_applies(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await until_loaded(pilot)
        await pilot.press("slash", *"-comm")
        field = app.screen.query_one("#filter-input", Input)
        await pause_until(pilot, lambda: field._suggestion == "-command:", "a key suggestion")
        await pilot.press("right", *"imp")
        await pause_until(
            pilot, lambda: field._suggestion == "-command:import_csv", "a command of the list"
        )
        await pilot.press("right", *" tag:photos", "enter")
        await pause_until(pilot, lambda: row_keys(app) == ["4", "3", "2", "1"], "the photos")
        field.value = ""
        await pilot.press("slash", *"sta")
        await pause_until(pilot, lambda: field._suggestion == "state:", "state:")
        await pilot.press("right", *"comp", "right", "enter")
        await pause_until(pilot, lambda: len(row_keys(app)) == 8, "every completed job")
        assert "filter: state:completed" in footer(app)


async def test_bad_filter_names_the_term_and_changes_nothing(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await until_loaded(pilot)
        await pilot.press("slash", *"colour:red", "enter")
        hint = app.screen.query_one("#filter-hint")
        await pause_until(pilot, lambda: "unknown key 'colour'" in str(hint.render()), "error")
        assert "known keys: state, command" in str(hint.render())
        assert row_keys(app) == ["9", "5"]


async def test_every_month_searches_across_months(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        screen = await until_loaded(pilot)
        assert isinstance(screen, CompletedScreen)
        screen.query_one("#month", Select).value = ALL_MONTHS
        await pause_until(pilot, lambda: screen.month == ALL_MONTHS, "every month chosen")
        await pilot.press("slash", *"tag:photos", "enter")
        await pause_until(pilot, lambda: row_keys(app) == ["4", "3", "2", "1"], "the photos")


async def test_marked_jobs_are_requeued_together_after_confirming_the_count(
    app: JobsApp, admin: BackgroundJobs
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        screen = await until_loaded(pilot)
        await pilot.press("space", "down", "space")
        assert "2 marked" in footer(app)
        await pause_until(pilot, lambda: "●" in screen_text(app), "the marked rows drawn")
        await pilot.press("r")
        await pause_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pause_until(pilot, lambda: "Requeue 2 jobs?" in screen_text(app), "the count")
        await pilot.press("y")
        # The bulk modal covers the list while its thread works (longer under load): the
        # rows and footer are read once the list is the active screen again.
        await pause_until(pilot, lambda: app.screen is screen, "the bulk action to finish")
        await pause_until(pilot, lambda: row_keys(app) == [], "both to leave the failed list")
        await pause_until(pilot, lambda: "marked" not in footer(app), "the marks to clear")
    assert await state_of(admin, 5) is JobState.QUEUED
    assert await state_of(admin, 9) is JobState.QUEUED


async def test_mark_all_matching_then_delete_them_for_good(
    app: JobsApp, admin: BackgroundJobs
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        screen = await until_loaded(pilot)
        await pilot.press("slash", *"command:resize_image", "enter")
        await pause_until(pilot, lambda: len(row_keys(app)) == 5, "the resize jobs")
        await pilot.press("A")
        await pause_until(pilot, lambda: "all 5 matching marked" in footer(app), "marked")
        await pilot.press("d")
        await pause_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pause_until(pilot, lambda: "Delete 5 jobs?" in screen_text(app), "the count")
        assert "state:completed command:resize_image" in screen_text(app)
        await pilot.press("y")
        await pause_until(pilot, lambda: app.screen is screen, "the bulk action to finish")
        await pause_until(pilot, lambda: row_keys(app) == [], "the list to empty")
    for job_id in (1, 2, 3, 4, 16):
        with pytest.raises(JobNotFoundError):
            await admin.get_job(job_id)
    assert (await admin.counts())[JobState.COMPLETED] == 3


async def test_ctrl_a_marks_the_loaded_rows_and_escape_clears_marks_first(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await until_loaded(pilot)
        await pilot.press("slash", *"resize", "enter")
        await pause_until(pilot, lambda: len(row_keys(app)) == 5, "the resize jobs")
        await pilot.press("ctrl+a")
        assert "5 marked" in footer(app)
        await pilot.press("escape")
        assert "marked" not in footer(app) and "filter: resize" in footer(app)
        await pilot.press("escape")
        await pause_until(pilot, lambda: len(row_keys(app)) == 9, "the filter to clear")
