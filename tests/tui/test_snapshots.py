"""Snapshot tests of every screen, from the seeded store with a fixed clock and ids."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from jobs_tui import JobsApp
from jobs_tui.screens.confirm import ConfirmScreen
from jobs_tui.screens.help import HelpScreen

from .conftest import pause_until, until_loaded

SIZE = (120, 40)
SnapCompare = Callable[..., bool]


def showing(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Press `keys` (switching views) and wait until the view has its data."""

    async def run_before(pilot: Pilot[None]) -> None:
        await until_loaded(pilot)
        for key in keys:
            await pilot.press(key)
            await until_loaded(pilot)

    return run_before


def test_dashboard_snapshot(snap_compare: SnapCompare, app: JobsApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=showing())


def test_queue_snapshot(snap_compare: SnapCompare, app: JobsApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=showing("2"))


def test_completed_snapshot(snap_compare: SnapCompare, app: JobsApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=showing("3"))


def test_failed_snapshot(snap_compare: SnapCompare, app: JobsApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=showing("4"))


def test_tasks_snapshot(snap_compare: SnapCompare, app: JobsApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=showing("5"))


def test_workers_snapshot(snap_compare: SnapCompare, app: JobsApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=showing("6"))


def test_job_detail_snapshot(snap_compare: SnapCompare, app: JobsApp) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await showing("3")(pilot)
        # job 8: request, response, log and a dependency; a traceback would show paths
        await pilot.press("enter")
        await until_loaded(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_confirm_modal_snapshot(snap_compare: SnapCompare, app: JobsApp) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await showing("2")(pilot)
        await pilot.press("c")
        await pause_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "modal")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_snapshot(snap_compare: SnapCompare, app: JobsApp) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await showing("2")(pilot)
        await pilot.press("question_mark")
        await pause_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "help")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_filter_bar_snapshot(snap_compare: SnapCompare, app: JobsApp) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await showing("3")(pilot)
        await pilot.press("slash", *"resize", "enter")
        await until_loaded(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_light_theme_snapshot(snap_compare: SnapCompare, app: JobsApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await showing("2")(pilot)
        await pilot.press("t")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
