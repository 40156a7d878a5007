"""What the library tells about a store shows in the admin app: a job's truncated logs in its
detail, and engine states (with their reasons) in the banner and the orphaned jobs."""

from __future__ import annotations

import dataclasses

from textual.pilot import Pilot

from jobs_core import EngineInfo, EngineState, JobContext, ManualClock, RunningJob
from jobs_tui import JobsApp
from jobs_tui.health import check
from jobs_tui.screens.detail import JobDetailScreen
from tests.conftest import FAST, MakeJobs

from .conftest import pause_until, screen_text, until_loaded

T0 = 1_790_000_000_000


async def test_job_detail_says_when_the_logs_were_cut(make_jobs: MakeJobs) -> None:
    clock = ManualClock(T0)
    settings = dataclasses.replace(FAST, max_log_chars=300)
    jobs = make_jobs(settings=settings, clock=clock, start_engine=False)

    @jobs.command
    async def chatty(ctx: JobContext) -> None:
        for i in range(40):
            ctx.log.info("line %03d", i)

    @jobs.command
    async def quiet(ctx: JobContext) -> None:
        ctx.log.info("one line")

    await jobs.start()
    cut = await jobs.enqueue("chatty")
    whole = await jobs.enqueue("quiet")
    await jobs.run_until_idle()
    admin = make_jobs(settings=settings, clock=clock, create=False, start_engine=False)
    app = JobsApp(admin, clock=clock, poll_interval=0.05)
    async with app.run_test(size=(140, 40)) as pilot:
        await until_loaded(pilot)
        texts: dict[int, str] = {}
        for ref in (cut, whole):
            await pilot.press("colon", *str(ref.id), "enter")
            texts[ref.id] = await detail_text(pilot, app, ref.id)
            await pilot.press("escape")
    assert "Log (newest lines only: the oldest were dropped)" in texts[cut.id]
    assert "logs      oldest lines dropped at the size limit" in texts[cut.id]
    assert "newest lines only" not in texts[whole.id]
    assert "size limit" not in texts[whole.id]


async def detail_text(pilot: Pilot[None], app: JobsApp, job_id: int) -> str:
    """What the detail of `job_id` shows, once loaded."""

    def shown() -> bool:
        screen = app.screen
        return isinstance(screen, JobDetailScreen) and screen.job_id == job_id

    await pause_until(pilot, shown, f"job {job_id}")
    await until_loaded(pilot)
    return screen_text(app)


def engine(engine_id: str, state: EngineState, reason: str, heartbeat_at: int) -> EngineInfo:
    return EngineInfo(
        id=engine_id, host="h", pid=1, started_at=0, heartbeat_at=heartbeat_at,
        lease_expires_at=heartbeat_at + 15_000, workers=[], commands=[], concurrency=1,
        running=1, processed=0, failed=0, alive=state in (EngineState.ALIVE, EngineState.STALE),
        state=state, reason=reason,
    )  # fmt: skip


def running(job_id: int, owner: str) -> RunningJob:
    return RunningJob(id=job_id, command="c", worker="", owner=owner, started_date=0,
                      progress=None, status=None)  # fmt: skip


def test_health_banner_names_each_engine_state_with_its_reason() -> None:
    now = T0 + 60_000
    engines = [
        engine("ok", EngineState.ALIVE, "", now - 1_000),
        engine("late", EngineState.STALE, "no heartbeat for 9s", now - 9_000),
        engine("gone", EngineState.DEAD, "its process 7 on h is gone", now - 3_000),
        engine("done", EngineState.STOPPED, "stopped cleanly", now - 50_000),
    ]
    health = check(engines, [running(1, "ok"), running(2, "late"), running(3, "gone")], now)
    assert health.live == {"ok"} and health.serving == {"ok", "late"}
    # The stale engine still owns its job; the dead one's job is orphaned.
    assert [health.orphaned(o) for o in ("ok", "late", "gone", "done")] == [
        False, False, True, True,
    ]  # fmt: skip
    assert health.alert == (
        "engine gone is dead (its process 7 on h is gone; last heartbeat 3s ago); "
        "engine late is stale (no heartbeat for 9s; last heartbeat 9s ago); "
        "1 running job orphaned: #3"
    )


def test_health_banner_says_when_no_engine_serves_the_store() -> None:
    stopped = engine("done", EngineState.STOPPED, "stopped cleanly", T0)
    health = check([stopped], [], T0 + 1_000)
    assert health.alert.startswith("No engine is running on this store")
    assert "done" not in health.alert  # a cleanly stopped engine owning nothing is no news
