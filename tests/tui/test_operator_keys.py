"""Sort, jump to a job, copy, and read-only mode in the app."""

from __future__ import annotations

import json

from textual.pilot import Pilot
from textual.screen import ModalScreen

from jobs_core import BackgroundJobs, JobState
from jobs_tui import JobsApp
from jobs_tui.demo_seed import seed_clock
from jobs_tui.screens.confirm import ConfirmScreen
from jobs_tui.screens.copy import CopyScreen
from jobs_tui.screens.detail import JobDetailScreen

from .conftest import pause_until, screen_text, until_loaded, until_palette_offers
from .test_actions import row_keys, state_of


async def test_s_sorts_the_loaded_rows_and_shift_s_reverses(app: JobsApp) -> None:
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("3")
        await until_loaded(pilot)
        assert row_keys(app) == ["16", "8", "7", "6", "4", "3", "2", "1"]
        await pilot.press("s")  # by id, ascending
        assert row_keys(app) == ["1", "2", "3", "4", "6", "7", "8", "16"]
        assert "Id ▲" in screen_text(app)
        await pilot.press("s", "S")  # by command, descending
        assert [row_keys(app)[0], row_keys(app)[-1]] == ["8", "7"]  # send_email … import_csv
        assert "Command ▼" in screen_text(app) and "sorted by command ▼" in screen_text(app)


async def test_colon_and_the_palette_open_a_job_by_id(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await until_loaded(pilot)
        await pilot.press("colon", *"7", "enter")
        await pause_until(pilot, lambda: isinstance(app.screen, JobDetailScreen), "job 7")
        assert isinstance(app.screen, JobDetailScreen) and app.screen.job_id == 7
        await pilot.press("escape")
        await pilot.press("ctrl+p", *"job 12")
        await until_palette_offers(pilot, "Open job 12")
        await pilot.press("enter")
        await pause_until(pilot, lambda: isinstance(app.screen, JobDetailScreen), "job 12")
        assert isinstance(app.screen, JobDetailScreen) and app.screen.job_id == 12
        await pilot.press("escape", "colon", *"999", "enter")
        await pause_until(pilot, lambda: "there is no job 999" in screen_text(app), "the error")


async def test_y_copies_the_job_json_id_or_error(app: JobsApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await until_loaded(pilot)
        await pilot.press("down", "y")
        await pause_until(pilot, lambda: isinstance(app.screen, CopyScreen), "the copy menu")
        await pilot.press("j")
        copied = json.loads(app.clipboard)
        assert (copied["id"], copied["state"], copied["request_body"]) == (
            5, "failed", {"customer": "acme"}
        )  # fmt: skip
        await pilot.press("y", "e")
        assert app.clipboard.startswith("ReportFailed: template missing for customer acme")
        await pilot.press("enter")
        await until_loaded(pilot)
        await pilot.press("y", "i")
        assert app.clipboard == "5"


async def refused_then_theme_toggled(pilot: Pilot[None], theme: str) -> None:
    """Press `t` after keys that must do nothing and wait for the theme to change: keys are
    handled in order, so by then the keys before it were handled (a refused key shows no
    sign of its own to wait for). A modal those keys opened takes the `t`: the caller's
    assertions then say what went wrong."""
    await pilot.press("t")
    await pause_until(
        pilot, lambda: pilot.app.theme == theme or isinstance(pilot.app.screen, ModalScreen),
        f"the {theme} theme",
    )  # fmt: skip


async def test_read_only_hides_and_refuses_every_change(
    admin: BackgroundJobs, seeded_dir: str
) -> None:
    viewer = BackgroundJobs(seeded_dir, create=False, start_engine=False, read_only=True,
                            clock=seed_clock())  # fmt: skip
    app = JobsApp(viewer, clock=seed_clock(), poll_interval=0.05)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await until_loaded(pilot)
            text = screen_text(app)
            assert "read-only" in text.splitlines()[0]
            footer = text.splitlines()[-1]
            assert "Cancel" not in footer and "Mark" not in footer and "Filter" in footer
            await pilot.press("c", "space", "ctrl+a")
            await refused_then_theme_toggled(pilot, "jobs-light")
            assert not isinstance(app.screen, ConfirmScreen)
            assert "marked" not in str(app.screen.query_one("#list-footer").render())
            await pilot.press("5")
            await until_loaded(pilot)  # else n and p find no task to act on
            await pilot.press("n", "p")
            await refused_then_theme_toggled(pilot, "jobs-dark")
            assert not isinstance(app.screen, ConfirmScreen)
            await pilot.press("8")
            await until_loaded(pilot)
            footer = screen_text(app).splitlines()[-1]
            assert "Pause" not in footer and "Concurrency" not in footer
            assert "Rate limit" not in footer
            await pilot.press("p", "e", "r")
            await refused_then_theme_toggled(pilot, "jobs-light")
            assert not isinstance(app.screen, ModalScreen)
    finally:
        await viewer.close()
    assert await state_of(admin, 10) is JobState.QUEUED
    assert not (await admin.scheduled_tasks())[0].run_now_requested
    mailer = {s.name: s for s in await admin.queue_settings()}["mailer"]
    assert str(mailer.rate_limit) == "30/1m"
