"""Snapshot tests of every screen at 80x24 and 200x50, from the seeded store (an engine at
work, a fixed clock, fixed ids)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot

from jobs_tui import JobsApp
from jobs_tui.demo_seed import TOUR
from jobs_tui.screens.base import DataScreen

from .conftest import pause_until

SnapCompare = Callable[..., bool]
Steps = tuple[str, ...]

SIZES = {"80x24": (80, 24), "200x50": (200, 50)}

SCREENS = TOUR


def steps(keys: Steps) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Press `keys`, waiting for each data screen to load (modals have nothing to load)."""

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


async def settle(pilot: Pilot[None]) -> None:
    def ready() -> bool:
        screen = pilot.app.screen
        return not isinstance(screen, DataScreen) or screen.loaded

    await pause_until(pilot, ready, f"{type(pilot.app.screen).__name__} to load")
    await pilot.pause()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_snapshot(snap_compare: SnapCompare, app: JobsApp, screen: str, size: str) -> None:
    assert snap_compare(app, terminal_size=SIZES[size], run_before=steps(SCREENS[screen]))


def test_light_theme_snapshot(snap_compare: SnapCompare, app: JobsApp) -> None:
    assert snap_compare(app, terminal_size=SIZES["200x50"], run_before=steps(("2", "t")))
