"""The admin app on a store with a damaged month file: it opens, shows that month as
unreadable with its error, and lists the other months as usual."""

from __future__ import annotations

import os
from pathlib import Path

from textual.widgets import Select, Static

from jobs_core import BackgroundJobs, ManualClock
from jobs_tui import JobsApp
from jobs_tui.screens.archive import CompletedScreen
from tests.month_files import NOVEMBER, garbage, two_months

from .conftest import pause_until, until_loaded


async def test_app_shows_a_damaged_month_unreadable_and_lists_the_others(tmp_path: Path) -> None:
    directory = str(tmp_path / "store")
    clock = ManualClock(NOVEMBER)
    october, _ = await two_months(directory, clock)
    november_file = os.path.join(directory, "jobs_2026-11.db")
    garbage(november_file)  # the newest month, which the archive views open on
    admin = BackgroundJobs(directory, create=False, start_engine=False, clock=clock)
    app = JobsApp(admin, clock=clock, poll_interval=0.05)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until_loaded(pilot)  # the dashboard opens
            months = str(app.screen.query_one("#months", Static).render())
            assert "2026-11 (unreadable), 2026-10 (" in months and "KiB)" in months

            await pilot.press("3")
            screen = await until_loaded(pilot)
            assert isinstance(screen, CompletedScreen) and screen.month == "2026-11"
            await pause_until(
                pilot,
                lambda: any(november_file in n.message for n in app._notifications),
                "the November file's error",
            )
            assert screen.shown == []
            select = screen.query_one("#month", Select)
            labels = [str(prompt) for prompt, value in select._options if isinstance(value, str)]
            assert labels[0] == "2026-11  (unreadable)" and labels[1].startswith("2026-10  (")

            select.value = "2026-10"
            await pause_until(pilot, lambda: len(screen.shown) > 0, "October listed")
            assert [job.id for job in screen.shown] == october[::-1][: len(screen.shown)]
    finally:
        await admin.close()
