"""Scheduled tasks: timing on a manual clock, missed runs, admin actions, exactly-once runs."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest

from jobs_core import (
    BackgroundJobs,
    InvalidOptionError,
    InvalidScheduleError,
    JobContext,
    JobState,
    ManualClock,
    MissedRunPolicy,
    Schedule,
    TaskNotFoundError,
    TaskState,
    UnknownCommandError,
    UnserialisableRequestError,
)
from tests.conftest import MakeJobs, wait_until

Runs = list[tuple[str, int, int]]
"""(task, scheduled_for, ran at) of every scheduled job that ran."""

EVERY_5_MIN = "*/5 * * * *"


def at(hour: int, minute: int, second: int = 0, *, day: int = 2) -> int:
    """Epoch ms of a time on the test clock's day (2026-11-02 UTC)."""
    return round(datetime(2026, 11, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


def facade(make_jobs: MakeJobs, clock: ManualClock, runs: Runs) -> BackgroundJobs:
    """A facade on the test store whose `record` command notes every run in `runs`."""
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def record(ctx: JobContext) -> None:
        meta = ctx.job.meta
        runs.append((meta["scheduled_task"], int(meta["scheduled_for"]), clock.now_ms()))

    return jobs


async def step(jobs: BackgroundJobs, clock: ManualClock, when: int) -> None:
    """Move the clock to `when` and drain the engine (which runs the scheduler)."""
    clock.set(when)
    await jobs.run_until_idle()


def slots(runs: Runs) -> list[int]:
    return [slot for _, slot, _ in runs]


# -- timing ---------------------------------------------------------------------------------


async def test_cron_task_runs_once_per_slot(make_jobs: MakeJobs, clock: ManualClock) -> None:
    runs: Runs = []
    jobs = facade(make_jobs, clock, runs)
    info = await jobs.recurring("report", EVERY_5_MIN, "record")
    assert (info.next_run_at, info.description) == (at(9, 5), "Every 5 minutes")
    await jobs.start()
    await step(jobs, clock, at(9, 4, 59))
    assert runs == []
    await step(jobs, clock, at(9, 5))
    await step(jobs, clock, at(9, 5, 30))
    await step(jobs, clock, at(9, 12))  # late: runs the 09:10 slot once, at 09:12
    assert runs == [("report", at(9, 5), at(9, 5)), ("report", at(9, 10), at(9, 12))]
    info = await jobs.scheduled_task("report")
    assert (info.next_run_at, info.last_run_at) == (at(9, 15), at(9, 12))
    assert info.last_job_state is JobState.COMPLETED
    last = (await jobs.get_job(info.last_job_id or 0)).job
    assert last is not None and last.tag == "report" and last.created_by == "scheduler"
    assert last.meta == {"scheduled_task": "report", "scheduled_for": str(at(9, 10))}


async def test_interval_task_runs_at_once_then_measures_from_each_run(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    runs: Runs = []
    jobs = facade(make_jobs, clock, runs)
    await jobs.recurring("poll", Schedule.interval(30), "record")
    await jobs.start()
    await step(jobs, clock, at(9, 0))
    await step(jobs, clock, at(9, 0, 29))
    await step(jobs, clock, at(9, 0, 30))
    await step(jobs, clock, at(9, 1, 15))  # 45 s late: one run, the next 30 s after it
    assert [(s, r) for _, s, r in runs] == [
        (at(9, 0), at(9, 0)), (at(9, 0, 30), at(9, 0, 30)), (at(9, 1), at(9, 1, 15)),
    ]  # fmt: skip
    assert (await jobs.scheduled_task("poll")).next_run_at == at(9, 1, 45)


async def test_daily_task_across_spring_forward_runs_at_exact_instants(
    make_jobs: MakeJobs,
) -> None:
    """02:30 does not exist in New York on 2027-03-14: it runs when the gap ends, 03:00 EDT."""
    clock = ManualClock(datetime(2027, 3, 12, 12, 0, tzinfo=UTC))
    runs: Runs = []
    jobs = facade(make_jobs, clock, runs)
    await jobs.recurring("nightly", Schedule.cron("30 2 * * *", tz="America/New_York"), "record")
    await jobs.start()
    for _ in range(3):
        info = await jobs.scheduled_task("nightly")
        assert info.next_run_at is not None
        await step(jobs, clock, info.next_run_at)
    assert slots(runs) == [
        round(datetime(2027, 3, 13, 7, 30, tzinfo=UTC).timestamp() * 1000),  # 02:30 EST
        round(datetime(2027, 3, 14, 7, 0, tzinfo=UTC).timestamp() * 1000),  # 03:00 EDT
        round(datetime(2027, 3, 15, 6, 30, tzinfo=UTC).timestamp() * 1000),  # 02:30 EDT
    ]
    assert [slot for _, slot, ran in runs if slot != ran] == []


async def test_running_engine_runs_scheduled_jobs_with_nothing_else_happening(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    """The scheduler's commits are the engine's own: it must still claim what they enqueue."""
    runs: Runs = []
    jobs = make_jobs(clock=clock)

    @jobs.command
    async def record(ctx: JobContext) -> None:
        runs.append((ctx.job.meta["scheduled_task"], int(ctx.job.meta["scheduled_for"]), 0))

    async with jobs:
        await jobs.recurring("now", Schedule.interval(60), "record")
        await wait_until(lambda: len(runs) == 1, timeout=5, what="the first run")
        clock.advance(60)
        await wait_until(lambda: len(runs) == 2, timeout=5, what="the second run")
    assert slots(runs) == [at(9, 0), at(9, 1)]


# -- missed runs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "max_catch_up", "expected"),
    [
        (MissedRunPolicy.RUN_ONCE, 100, [at(9, 55)]),
        (MissedRunPolicy.SKIP, 100, []),
        (MissedRunPolicy.CATCH_UP, 100, [at(9, m) for m in range(10, 60, 5)]),
        (MissedRunPolicy.CATCH_UP, 3, [at(9, 45), at(9, 50), at(9, 55)]),
    ],
)
async def test_missed_runs_after_downtime_follow_the_policy(
    make_jobs: MakeJobs,
    clock: ManualClock,
    policy: MissedRunPolicy,
    max_catch_up: int,
    expected: list[int],
) -> None:
    runs: Runs = []
    first = facade(make_jobs, clock, runs)
    await first.recurring("sync", EVERY_5_MIN, "record", missed=policy, max_catch_up=max_catch_up)
    await first.start()
    await step(first, clock, at(9, 5))
    await first.stop()
    clock.set(at(9, 57))  # ten slots, 09:10 to 09:55, pass with no engine up
    runs.clear()
    second = facade(make_jobs, clock, runs)
    await second.recurring("sync", EVERY_5_MIN, "record", missed=policy, max_catch_up=max_catch_up)
    await second.start()
    await second.run_until_idle()
    assert slots(runs) == expected
    assert (await second.scheduled_task("sync")).next_run_at == at(10, 0)


async def test_restart_without_downtime_runs_nothing_and_keeps_a_pause(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    runs: Runs = []
    first = facade(make_jobs, clock, runs)
    await first.recurring("a", EVERY_5_MIN, "record")
    await first.recurring("b", Schedule.interval(60), "record")
    await first.start()
    await step(first, clock, at(9, 0))
    await first.pause_task("b")
    await first.stop()
    runs.clear()
    second = facade(make_jobs, clock, runs)
    await second.recurring("a", EVERY_5_MIN, "record")
    await second.recurring("b", Schedule.interval(60), "record")
    await second.start()
    await step(second, clock, at(9, 3))
    assert runs == []
    assert [(t.name, t.paused) for t in await second.scheduled_tasks()] == [
        ("a", False), ("b", True),
    ]  # fmt: skip


# -- registration ---------------------------------------------------------------------------


async def test_registering_again_updates_the_task_and_keeps_its_history(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    runs: Runs = []
    jobs = facade(make_jobs, clock, runs)
    await jobs.recurring("r", EVERY_5_MIN, "record", {"v": 1})
    await jobs.start()
    await step(jobs, clock, at(9, 5))
    before = await jobs.scheduled_task("r")
    await jobs.pause_task("r")
    same = await jobs.recurring("r", EVERY_5_MIN, "record", {"v": 2}, retry_limit=7)
    assert (same.last_run_at, same.last_job_id) == (before.last_run_at, before.last_job_id)
    # Paused, it shows no next run time; the kept slot comes back on resume.
    assert (same.next_run_at, same.state, same.request_body) == (
        None, TaskState.PAUSED, '{"v":2}',
    )  # fmt: skip
    await jobs.resume_task("r")
    assert (await jobs.scheduled_task("r")).next_run_at == at(9, 10)
    await jobs.pause_task("r")
    changed = await jobs.recurring("r", "0 * * * *", "record", {"v": 2})
    assert (changed.description, changed.paused, changed.next_run_text) == (
        "Every hour", True, "paused",
    )  # fmt: skip
    assert changed.last_job_id == before.last_job_id
    await jobs.resume_task("r")
    assert (await jobs.scheduled_task("r")).next_run_at == at(10, 0)
    await step(jobs, clock, at(10, 0))
    job = (await jobs.get_job((await jobs.scheduled_task("r")).last_job_id or 0)).job
    assert job is not None and (job.request_body, job.retry_limit) == ('{"v":2}', 2)


async def test_bad_input_is_refused_at_registration_and_nothing_is_stored(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = facade(make_jobs, clock, [])
    with pytest.raises(InvalidScheduleError, match="minute field '61' is out of range 0-59"):
        await jobs.recurring("t", "61 * * * *", "record")
    with pytest.raises(InvalidScheduleError, match="has 4 fields; expected 5"):
        await jobs.recurring("t", "* * * *", "record")
    with pytest.raises(UnknownCommandError, match="no command named 'nope'"):
        await jobs.recurring("t", EVERY_5_MIN, "nope")
    with pytest.raises(UnserialisableRequestError):
        await jobs.recurring("t", EVERY_5_MIN, "record", object())
    with pytest.raises(InvalidOptionError, match="unknown missed-run policy 'later'"):
        await jobs.recurring("t", EVERY_5_MIN, "record", missed="later")
    with pytest.raises(InvalidOptionError, match="max_catch_up must be an int >= 1, got 0"):
        await jobs.recurring("t", EVERY_5_MIN, "record", max_catch_up=0)
    assert await jobs.scheduled_tasks() == []


async def test_unknown_task_names_are_clear_errors(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)
    for action in (jobs.pause_task, jobs.resume_task, jobs.run_task_now, jobs.remove_task):
        with pytest.raises(TaskNotFoundError, match="there is no scheduled task 'ghost'"):
            await action("ghost")
    with pytest.raises(TaskNotFoundError):
        await jobs.scheduled_task("ghost")


# -- admin actions --------------------------------------------------------------------------


async def test_pause_stops_runs_and_resume_does_not_burst(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    runs: Runs = []
    jobs = facade(make_jobs, clock, runs)
    await jobs.recurring("p", EVERY_5_MIN, "record", missed=MissedRunPolicy.CATCH_UP)
    await jobs.start()
    await jobs.pause_task("p")
    await step(jobs, clock, at(10, 2))
    assert runs == []
    await jobs.resume_task("p")
    info = await jobs.scheduled_task("p")
    assert (info.paused, info.next_run_at) == (False, at(10, 5))
    await step(jobs, clock, at(10, 5))
    assert slots(runs) == [at(10, 5)]


async def test_removed_task_no_longer_runs_and_its_jobs_stay(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    runs: Runs = []
    jobs = facade(make_jobs, clock, runs)
    await jobs.recurring("gone", EVERY_5_MIN, "record")
    await jobs.start()
    await step(jobs, clock, at(9, 5))
    last_job = (await jobs.scheduled_task("gone")).last_job_id
    await jobs.remove_task("gone")
    await step(jobs, clock, at(9, 10))
    assert slots(runs) == [at(9, 5)]
    assert await jobs.scheduled_tasks() == []
    assert (await jobs.get_job(last_job or 0)).state is JobState.COMPLETED


async def test_run_now_from_another_process_runs_once_within_a_second(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    """The admin is another connection: the request reaches the engine through the store."""
    runs: Runs = []
    engine = facade(make_jobs, clock, runs)
    admin = make_jobs(clock=clock, start_engine=False)
    await engine.recurring("manual", "@daily", "record")
    await engine.start()
    await engine.pause_task("manual")  # a paused task can still be run by hand
    await engine.run_until_idle()
    await admin.run_task_now("manual")
    await admin.run_task_now("manual")  # asked twice before it was taken: one run
    assert (await admin.scheduled_task("manual")).run_now_requested
    await step(engine, clock, clock.now_ms() + 1000)
    assert [(s, r) for _, s, r in runs] == [(at(9, 0, 1), at(9, 0, 1))]
    info = await admin.scheduled_task("manual")
    assert (info.run_now_requested, info.state, info.next_run_at) == (False, TaskState.PAUSED, None)
    assert info.last_job_state is JobState.COMPLETED


async def test_run_now_in_the_engine_process_runs_at_once(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    runs: Runs = []
    jobs = facade(make_jobs, clock, runs)
    await jobs.recurring("manual", "@daily", "record")
    await jobs.start()
    await jobs.run_until_idle()
    await jobs.run_task_now("manual")
    await jobs.run_until_idle()
    assert slots(runs) == [at(9, 0)]


# -- several engines ------------------------------------------------------------------------


async def test_two_engines_enqueue_each_slot_exactly_once(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    runs: Runs = []
    a = facade(make_jobs, clock, runs)
    b = facade(make_jobs, clock, runs)
    await a.recurring("every", Schedule.cron("* * * * * *"), "record")
    await b.recurring("every", Schedule.cron("* * * * * *"), "record")
    await a.recurring("catch", EVERY_5_MIN, "record", missed=MissedRunPolicy.CATCH_UP)
    await a.start()
    await b.start()
    outcomes = race([a, b])
    for second in range(1, 21):
        clock.set(at(9, 0, second))
        await asyncio.gather(a.run_until_idle(), b.run_until_idle())
    clock.set(at(9, 30))
    await asyncio.gather(a.run_until_idle(), b.run_until_idle())
    every = [slot for task, slot, _ in runs if task == "every"]
    assert sorted(every) == [at(9, 0, s) for s in range(1, 21)] + [at(9, 30)]
    catch = [slot for task, slot, _ in runs if task == "catch"]
    assert sorted(catch) == [at(9, m) for m in range(5, 31, 5)]
    # Both engines fought over the slots (the barrier makes them scan together), and the
    # compare-and-set turned the losers away; which engine wins a slot is up to the OS.
    assert all(tried for tried in outcomes)
    assert any(result is None for tried in outcomes for result in tried)


def race(engines: list[BackgroundJobs]) -> list[list[list[int] | None]]:
    """Make the engines' schedulers all scan before any of them writes, so each slot is
    fought over; returns what each engine's attempts to enqueue a slot returned."""
    barrier = asyncio.Barrier(len(engines))
    results: list[list[list[int] | None]] = []
    for jobs in engines:
        store: Any = jobs.store
        outcomes: list[list[int] | None] = []
        results.append(outcomes)

        async def scan(now: int, scan: Any = store.scan_tasks) -> Any:
            found = await scan(now)
            # An engine may scan once more than its rival (its dispatch loop saw a change):
            # that scan goes on alone rather than wait for a partner that never comes.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(barrier.wait(), 1)
            return found

        async def fire(
            *args: Any, fire: Any = store.fire_task, out: Any = outcomes, **kwargs: Any
        ) -> Any:
            result = await fire(*args, **kwargs)
            out.append(result)
            return result

        store.scan_tasks, store.fire_task = scan, fire
    return results
