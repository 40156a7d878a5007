"""The scheduled-tasks view: run now and pause/resume, confirmed, through the task API.

The task API is still landing in jobs_core, so these tests give the facade the documented
methods (scheduled_tasks, run_task_now, pause_task, resume_task) over an in-memory list.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from jobs_core import BackgroundJobs, ScheduledTaskInfo
from jobs_tui import JobsApp
from jobs_tui.demo_seed import SEED_NOW_MS, seed_clock
from jobs_tui.screens.confirm import ConfirmScreen
from jobs_tui.screens.tasks import UNSUPPORTED, TasksScreen

from .conftest import pause_until, until_loaded

NIGHTLY = ScheduledTaskInfo(
    name="nightly-report", schedule="cron 0 2 * * *", description="daily at 02:00 (UTC)",
    command="send_report", request_body="{}", paused=False, missed_policy="skip",
    next_run_at=SEED_NOW_MS + 3_600_000, last_run_at=SEED_NOW_MS - 600_000, last_job_id=5,
    last_job_state=None, run_now_requested=False,
)  # fmt: skip


class TaskJobs(BackgroundJobs):
    """A facade with the scheduled-task API shape the TUI codes against."""

    tasks: dict[str, ScheduledTaskInfo]

    async def scheduled_tasks(self) -> list[ScheduledTaskInfo]:
        return list(self.tasks.values())

    async def run_task_now(self, name: str) -> None:
        self.tasks[name] = dataclasses.replace(self.tasks[name], run_now_requested=True)

    async def pause_task(self, name: str) -> None:
        self.tasks[name] = dataclasses.replace(self.tasks[name], paused=True)

    async def resume_task(self, name: str) -> None:
        self.tasks[name] = dataclasses.replace(self.tasks[name], paused=False)


def task_app(directory: Path) -> tuple[JobsApp, TaskJobs]:
    jobs = TaskJobs(str(directory), start_engine=False, clock=seed_clock())
    jobs.tasks = {NIGHTLY.name: NIGHTLY}
    return JobsApp(jobs, clock=seed_clock(), poll_interval=0.05), jobs


async def test_run_now_confirmed_requests_a_run(tmp_path: Path) -> None:
    app, jobs = task_app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")
            await until_loaded(pilot)
            await pilot.press("n")
            await pause_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "modal")
            await pilot.press("y")
            await pause_until(pilot, lambda: jobs.tasks[NIGHTLY.name].run_now_requested, "run")
    finally:
        await jobs.close()


async def test_pause_then_resume(tmp_path: Path) -> None:
    app, jobs = task_app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")
            screen = await until_loaded(pilot)
            await pilot.press("p", "y")
            await pause_until(pilot, lambda: jobs.tasks[NIGHTLY.name].paused, "paused")
            assert isinstance(screen, TasksScreen)
            await pause_until(pilot, lambda: screen.tasks[0].paused, "the view to show it")
            await pilot.press("p", "y")
            await pause_until(pilot, lambda: not jobs.tasks[NIGHTLY.name].paused, "resumed")
    finally:
        await jobs.close()


async def test_without_the_task_api_the_view_says_so(tmp_path: Path) -> None:
    jobs = BackgroundJobs(str(tmp_path), start_engine=False, clock=seed_clock())
    app = JobsApp(jobs, poll_interval=0.05)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")
            screen = await until_loaded(pilot)
            note = str(screen.query_one("#tasks-note").render())
            assert (note == UNSUPPORTED) is (not hasattr(jobs, "scheduled_tasks"))
            assert screen.check_action("run_now", ()) is None
    finally:
        await jobs.close()
