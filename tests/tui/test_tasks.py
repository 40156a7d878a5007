"""The scheduled-tasks view on the real task API: run now, pause and resume, confirmed."""

from __future__ import annotations

from jobs_core import BackgroundJobs, JobState
from jobs_tui import JobsApp
from jobs_tui.demo_seed import seed_clock
from jobs_tui.screens.confirm import ConfirmScreen
from jobs_tui.screens.tasks import TasksScreen

from .conftest import pause_until, until_loaded


async def test_tasks_view_lists_real_tasks_with_their_last_job(
    app: JobsApp, admin: BackgroundJobs
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        screen = await until_loaded(pilot)
        assert isinstance(screen, TasksScreen)
        by_name = {t.name: t for t in screen.tasks}
    assert set(by_name) == {"nightly-report", "thumbnails", "weekly-digest"}
    assert by_name["thumbnails"].last_job_state is JobState.COMPLETED
    assert by_name["weekly-digest"].paused
    assert by_name["nightly-report"].description == "At 02:00 (Europe/Paris)"


async def test_run_now_confirmed_reaches_an_engine_on_the_store(
    app: JobsApp, admin: BackgroundJobs, seeded_dir: str
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        screen = await until_loaded(pilot)
        assert isinstance(screen, TasksScreen) and screen.tasks[0].name == "nightly-report"
        await pilot.press("n")
        await pause_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the modal")
        await pilot.press("y")
        await pause_until(pilot, lambda: screen.tasks[0].run_now_requested, "the view to show it")
    assert (await admin.scheduled_tasks())[0].run_now_requested
    engine = BackgroundJobs(seeded_dir, clock=seed_clock(), start_engine=False)

    @engine.command
    async def send_report(req: dict[str, str]) -> None:
        return None

    for name in ("resize_image", "send_email", "import_csv"):
        engine.command(name)(send_report)
    await engine.start()
    await engine.run_until_idle()
    nightly = next(t for t in await engine.scheduled_tasks() if t.name == "nightly-report")
    await engine.stop()
    assert nightly.last_job_id is not None and not nightly.run_now_requested
    assert nightly.last_job_state is JobState.COMPLETED


async def test_pause_then_resume_in_the_store(app: JobsApp, admin: BackgroundJobs) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        screen = await until_loaded(pilot)
        assert isinstance(screen, TasksScreen)
        await pilot.press("p", "y")
        await pause_until(pilot, lambda: screen.tasks[0].paused, "the view to show it paused")
        assert (await admin.scheduled_tasks())[0].paused
        await pilot.press("p", "y")
        await pause_until(pilot, lambda: not screen.tasks[0].paused, "resumed in the view")
        assert not (await admin.scheduled_tasks())[0].paused
