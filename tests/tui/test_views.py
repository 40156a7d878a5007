"""The batch view, a job's relations, and the commands view with its chart."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Tree

from jobs_tui import JobsApp
from jobs_tui.screens.batch import BatchScreen
from jobs_tui.screens.commands_view import CommandsScreen
from jobs_tui.screens.detail import JobDetailScreen
from jobs_tui.screens.tree import TreeScreen
from jobs_tui.widgets.keyed_table import KeyedTable

from .conftest import pause_until, screen_text, until_loaded, until_palette_offers
from .test_actions import row_keys


async def test_b_in_a_job_opens_its_batch_with_progress_and_jobs(app: JobsApp) -> None:
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("colon", *"2", "enter")
        await pause_until(pilot, lambda: isinstance(app.screen, JobDetailScreen), "job 2")
        await until_loaded(pilot)
        await pilot.press("b")
        await pause_until(pilot, lambda: isinstance(app.screen, BatchScreen), "the batch")
        await until_loaded(pilot)
        await pause_until(pilot, lambda: row_keys(app) == ["4", "3", "2", "1"], "its jobs")
        text = screen_text(app)
        assert "Batch b-photos" in text.splitlines()[0]
        assert "4 of 4 done  (4 completed)" in text
        await pilot.press("escape")
        await pause_until(pilot, lambda: isinstance(app.screen, JobDetailScreen), "back")


async def test_palette_opens_a_batch_by_name(app: JobsApp) -> None:
    async with app.run_test(size=(140, 40)) as pilot:
        await until_loaded(pilot)
        await pilot.press("ctrl+p", *"batch b-late")
        await until_palette_offers(pilot, "Open batch b-late")
        await pilot.press("enter")
        await pause_until(pilot, lambda: isinstance(app.screen, BatchScreen), "the batch")
        await pause_until(pilot, lambda: len(row_keys(app)) == 4, "its four queued jobs")
        assert "0 of 4 done  (4 queued)" in screen_text(app)


async def test_t_shows_relations_and_enter_opens_a_related_job(app: JobsApp) -> None:
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("colon", *"8", "enter")
        await pause_until(pilot, lambda: isinstance(app.screen, JobDetailScreen), "job 8")
        await pilot.press("t")
        await pause_until(pilot, lambda: isinstance(app.screen, TreeScreen), "the tree")
        await until_loaded(pilot)
        text = screen_text(app)
        assert "#8 send_email  completed" in text
        assert "waits for #7 import_csv  completed" in text
        assert "started by" not in text  # its parent is the job it waits for: shown once
        tree = app.screen.query_one(Tree)
        tree.focus()
        await pilot.press("down", "enter")
        await pause_until(pilot, lambda: isinstance(app.screen, JobDetailScreen), "job 7")
        assert isinstance(app.screen, JobDetailScreen) and app.screen.job_id == 7


async def test_tree_shows_what_runs_after_a_job(app: JobsApp) -> None:
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("colon", *"14", "enter")
        await pause_until(pilot, lambda: isinstance(app.screen, JobDetailScreen), "job 14")
        await pilot.press("t")
        await pause_until(pilot, lambda: isinstance(app.screen, TreeScreen), "the tree")
        await until_loaded(pilot)
        text = screen_text(app)
        assert "runs after it #15 send_email  queued" in text
        assert "started #15" not in text  # a dependent is its child too: shown once


async def test_commands_view_shows_figures_and_a_chart(app: JobsApp) -> None:
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("7")
        screen = await until_loaded(pilot)
        assert isinstance(screen, CommandsScreen)
        text = screen_text(app)
        resize = next(line for line in text.splitlines() if line.strip().startswith("resize"))
        assert resize.split()[:3] == ["resize_image", "5", "0.0%"]
        report = next(line for line in text.splitlines() if line.strip().startswith("send_r"))
        assert "100.0%" in report
        assert "resize_image: finished per minute" in text
        assert "09:0" in text and "completed" in text


async def test_a_list_fills_the_width_under_its_month_bar_and_open_filter(app: JobsApp) -> None:
    # A side margin on the month or filter bar narrowed the list beside them by two columns.
    async with app.run_test(size=(120, 40)) as pilot:
        for view in ("3", "4", "2"):
            await pilot.press(view)
            await filtered_list_fills_the_width(pilot, await until_loaded(pilot), view)
            await pilot.press("escape")


async def filtered_list_fills_the_width(
    pilot: Pilot[None], screen: Screen[None], view: str
) -> None:
    await pilot.press("slash")
    await pause_until(pilot, lambda: bool(screen.query_one("#filter-bar").display), "the filter")
    table = screen.query_one(KeyedTable)
    await pause_until(pilot, lambda: table.size.width == 120, f"view {view}'s list at 120")


async def test_the_detail_at_80_columns_keeps_dates_on_one_line_and_its_titles_whole(
    app: JobsApp,
) -> None:
    # At 80 columns the fields pane wrapped each date after its day, and the attempts title
    # was cut ("Attempts (enter: its log, l: whole").
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3", "enter")
        await until_loaded(pilot)
        assert isinstance(app.screen, JobDetailScreen)
        await pause_until(pilot, lambda: "scheduled for" in screen_text(app), "the fields")
        lines = screen_text(app).splitlines()
        scheduled = next(line for line in lines if "scheduled for" in line)
        assert "2026-11-02 09:08:00" in scheduled
        assert "Attempts (enter: its log)" in screen_text(app)


async def test_an_id_header_stands_over_its_right_aligned_ids(app: JobsApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await until_loaded(pilot)
        await pause_until(pilot, lambda: "resize_image" in screen_text(app), "the queue's rows")
        lines = screen_text(app).splitlines()
        header = next(line for line in lines if "Command" in line and "Id" in line)
        row = next(line for line in lines if "resize_image" in line and " 10 " in line)
        assert header.index("Id") + len("Id") == row.index("10") + len("10")
