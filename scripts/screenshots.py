"""Save an SVG of every admin screen into screenshots/, from the deterministic seeded store.

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
from jobs_tui.demo_seed import seed_clock, seed_store
from jobs_tui.screens.base import DataScreen

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZE = (120, 40)

SHOTS: list[tuple[str, tuple[str, ...]]] = [
    ("dashboard", ("1",)),
    ("queue", ("2",)),
    ("completed", ("3",)),
    ("failed", ("4",)),
    ("tasks", ("5",)),
    ("workers", ("6",)),
    ("job_detail", ("3", "enter")),
    ("confirm_cancel", ("escape", "2", "c")),
    ("help", ("n", "question_mark")),
    ("filter", ("escape", "3", "slash", *"resize", "enter")),
    ("queue_light", ("2", "t")),
]
"""(file name, keys pressed since the previous shot)."""


async def settle(pilot: Pilot[None]) -> None:
    """Wait until the current view has loaded its data (modals have nothing to load)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        screen = pilot.app.screen
        if not isinstance(screen, DataScreen) or screen.loaded:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        await seed_store(directory)
        jobs = BackgroundJobs(directory, create=False, start_engine=False, clock=seed_clock())
        try:
            app = JobsApp(jobs, clock=seed_clock(), poll_interval=0.05, title="jobs admin")
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                for name, keys in SHOTS:
                    await pilot.press(*keys)
                    await settle(pilot)
                    app.save_screenshot(f"{name}.svg", str(OUT))
                    print(f"screenshots/{name}.svg")
        finally:
            await jobs.close()


if __name__ == "__main__":
    asyncio.run(main())
