"""The admin app in its own process for the cost benchmark, headless, on one view.

Usage: python bench/_tui_proc.py DIR VIEW. Prints "ready" once the view shows its data,
then runs (refreshing as it would on a terminal) until SIGTERM. VIEW `job:N` is the detail
of job N, reached as an operator does (`:` N enter).
"""

from __future__ import annotations

import asyncio
import signal
import sys

from jobs_core import BackgroundJobs
from jobs_tui import JobsApp
from jobs_tui.screens.base import DataScreen
from jobs_tui.screens.detail import JobDetailScreen

KEYS = {"dashboard": "1", "queue": "2", "completed": "3", "failed": "4", "commands": "7"}


async def main(directory: str, view: str) -> None:
    jobs = BackgroundJobs(directory, create=False, start_engine=False)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    app = JobsApp(jobs)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            if view.startswith("job:"):
                await pilot.press("colon", *view.removeprefix("job:"), "enter")
            else:
                await pilot.press(KEYS[view])
            while not (
                isinstance(app.screen, DataScreen) and app.screen.loaded
                and (not view.startswith("job:") or isinstance(app.screen, JobDetailScreen))
            ):  # fmt: skip
                await asyncio.sleep(0.05)
            print("ready", flush=True)
            await stop.wait()
    finally:
        await jobs.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
