"""Recurring tasks: overlap with the previous run, `start_at`/`end_at`, `max_runs`, and what
a paused or ended task shows. The scheduler is ticked by hand; runs are claimed and finished
through the store, so each state of the previous run is set exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs_core import (
    BackgroundJobs,
    InvalidOptionError,
    JobState,
    ManualClock,
    Schedule,
    TaskState,
)
from jobs_core.scheduler import Scheduler
from jobs_core.store.protocol import Transition
from jobs_core.store.task_protocol import TaskStore
from tests.conftest import MakeJobs

MINUTE = 60_000


def tasks_app(make_jobs: MakeJobs, clock: ManualClock) -> tuple[BackgroundJobs, Scheduler]:
    jobs = make_jobs(clock=clock, start_engine=False)
    jobs.command("tick")(_tick)
    assert isinstance(jobs.store, TaskStore)
    return jobs, Scheduler(jobs.store, jobs.settings, lambda: None)


async def _tick() -> None:
    return None


async def runs(jobs: BackgroundJobs, name: str) -> list[int]:
    """Ids of the jobs the task enqueued, oldest first."""
    page = await jobs.list_queue()
    return [j.id for j in page.items if j.meta.get("scheduled_task") == name]


async def tick_at(scheduler: Scheduler, clock: ManualClock, minute: int) -> None:
    clock.set(START + minute * MINUTE)
    await scheduler.tick(clock.now_ms())


START = round(datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp() * 1000)


async def start_all(jobs: BackgroundJobs) -> None:
    """Every queued run starts (claimed by engine "e")."""
    store, now = jobs.store, jobs.clock.now_ms()
    await store.claim(owner="e", commands=["tick"], named=False, limit=100, now=now)


async def finish_all(jobs: BackgroundJobs) -> None:
    """Every run starts and completes."""
    await start_all(jobs)
    done = [
        Transition(job_id=j.id, state=JobState.COMPLETED, owner_guard="e", response_body="1")
        for j in (await jobs.list_queue()).items
    ]
    await jobs.store.finish(done, [], jobs.clock.now_ms())


@pytest.mark.parametrize(
    ("overlap", "expected"),
    [
        # scheduled runs enqueued after each tick: at minute 0 (the task starts), 1 (its
        # last run is still queued), 2 (it is running), 3 (every run completed)
        ("skip", [1, 1, 1, 2]),
        ("queue_one", [1, 1, 2, 3]),
        ("allow", [1, 2, 3, 4]),
    ],
)
async def test_overlap_policy_decides_slots_while_the_previous_run_is_busy(
    make_jobs: MakeJobs, clock: ManualClock, overlap: str, expected: list[int]
) -> None:
    jobs, scheduler = tasks_app(make_jobs, clock)
    await jobs.recurring("t", Schedule.interval(60), "tick", overlap=overlap)
    counts: list[int] = []
    for minute, before in enumerate((None, None, start_all, finish_all)):
        if before is not None:
            await before(jobs)
        await tick_at(scheduler, clock, minute)
        counts.append((await jobs.scheduled_task("t")).run_count)
    info = await jobs.scheduled_task("t")
    assert counts == expected
    assert info.overlap == overlap and info.next_run_at == START + 4 * MINUTE


async def test_window_and_run_budget_end_the_task(make_jobs: MakeJobs, clock: ManualClock) -> None:
    jobs, scheduler = tasks_app(make_jobs, clock)
    begin = datetime(2026, 11, 2, 9, 2, tzinfo=UTC)
    info = await jobs.recurring(
        "w", Schedule.interval(60), "tick", overlap="allow", start_at=begin,
        end_at=begin + timedelta(minutes=10), max_runs=3,
    )  # fmt: skip
    assert (info.next_run_at, info.start_at) == (START + 2 * MINUTE, START + 2 * MINUTE)
    for minute in range(8):
        await tick_at(scheduler, clock, minute)
    info = await jobs.scheduled_task("w")
    assert (info.run_count, info.state, info.next_run_at, info.next_run_text) == (
        3, TaskState.ENDED, None, "ended",
    )  # fmt: skip
    assert len(await runs(jobs, "w")) == 3
    await jobs.run_task_now("w")  # an ended task still runs by hand
    await tick_at(scheduler, clock, 9)
    assert len(await runs(jobs, "w")) == 4
    # Registered again with a later end, it goes on.
    again = await jobs.recurring("w", Schedule.interval(60), "tick", overlap="allow",
                                 max_runs=5)  # fmt: skip
    assert again.state is TaskState.SCHEDULED and again.run_count == 3


async def test_end_at_stops_a_cron_task_at_its_last_slot(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs, scheduler = tasks_app(make_jobs, clock)
    await jobs.recurring(
        "c", "*/5 * * * *", "tick", overlap="allow",
        end_at=datetime(2026, 11, 2, 9, 10, tzinfo=UTC),
    )  # fmt: skip
    for minute in (5, 10, 15, 20):
        await tick_at(scheduler, clock, minute)
    info = await jobs.scheduled_task("c")
    assert (info.run_count, info.state) == (2, TaskState.ENDED)


async def test_paused_task_shows_paused_instead_of_a_next_run(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs, _ = tasks_app(make_jobs, clock)
    await jobs.recurring("p", "@hourly", "tick")
    await jobs.pause_task("p")
    (info,) = await jobs.scheduled_tasks()
    assert (info.state, info.next_run_at, info.next_run_text) == (TaskState.PAUSED, None, "paused")
    await jobs.resume_task("p")
    info = await jobs.scheduled_task("p")
    assert (info.state, info.next_run_at, info.next_run_text) == (
        TaskState.SCHEDULED, START + 60 * MINUTE, "",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"overlap": "sometimes"}, "unknown overlap policy 'sometimes'; known: skip, queue_one"),
        ({"start_at": datetime(2026, 1, 1)}, "start_at 2026-01-01T00:00:00 is a naive datetime"),
        ({"end_at": "tomorrow"}, "end_at must be a datetime with a time zone, got str"),
        ({"max_runs": 0}, "max_runs must be an int >= 1, got 0"),
        (
            {
                "start_at": datetime(2026, 2, 1, tzinfo=UTC),
                "end_at": datetime(2026, 1, 1, tzinfo=UTC),
            },
            "end_at must come after start_at",
        ),
    ],
)
async def test_bad_bounds_are_refused_naming_them(
    make_jobs: MakeJobs, clock: ManualClock, options: dict[str, object], message: str
) -> None:
    jobs, _ = tasks_app(make_jobs, clock)
    with pytest.raises(InvalidOptionError, match=message):
        await jobs.recurring("bad", "@hourly", "tick", **options)  # type: ignore[arg-type]
    assert await jobs.scheduled_tasks() == []
