"""Save an SVG of every admin screen into screenshots/, from the deterministic seeded store
(an engine at work, a fixed clock): the snapshot tests' tour, at 120x40, plus the dashboard
at 80x24 and in the light theme.

Run: `uv run python scripts/screenshots.py`
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from textual.pilot import Pilot

from jobs_core import BackgroundJobs
from jobs_tui import JobsApp
from jobs_tui.demo_seed import TOUR, seed_clock, seed_store
from jobs_tui.screens.base import DataScreen

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZE = (120, 40)
EXTRA: dict[str, tuple[tuple[int, int], tuple[str, ...]]] = {
    "dashboard_80x24": ((80, 24), ()),
    "queue_light": (SIZE, ("2", "t")),
}
"""Shots beyond the tour: (size, keys)."""


async def settle(pilot: Pilot[None]) -> None:
    """Wait until the current view has loaded its data (modals have nothing to load)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        screen = pilot.app.screen
        if not isinstance(screen, DataScreen) or screen.loaded:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


async def shoot(directory: str, name: str, size: tuple[int, int], keys: tuple[str, ...]) -> None:
    """One screenshot: a fresh app on the store, the keys pressed, the screen saved."""
    jobs = BackgroundJobs(directory, create=False, start_engine=False, clock=seed_clock())
    try:
        app = JobsApp(jobs, clock=seed_clock(), poll_interval=0.05, store_label="./jobs_data")
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            for key in keys:
                await pilot.press(key)
                await settle(pilot)
            app.save_screenshot(f"{name}.svg", str(OUT))
    finally:
        await jobs.close()
    print(f"screenshots/{name}.svg")


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.svg"):
        old.unlink()
    with tempfile.TemporaryDirectory() as directory:
        await seed_store(directory)
        shots = {name: (SIZE, keys) for name, keys in TOUR.items()} | EXTRA
        for name, (size, keys) in shots.items():
            await shoot(directory, name, size, keys)


if __name__ == "__main__":
    asyncio.run(main())
