"""Table tests of the recurring-task rules: overlap with the previous run, window, budget."""

from __future__ import annotations

import pytest

from jobs_core import JobState, OverlapPolicy, Schedule
from jobs_core.schedule import DuePlan
from jobs_core.task_rules import Bounds, bound, first_slot, runs_allowed

SKIP, QUEUE_ONE, ALLOW = OverlapPolicy.SKIP, OverlapPolicy.QUEUE_ONE, OverlapPolicy.ALLOW


@pytest.mark.parametrize(
    ("policy", "last", "allowed"),
    [
        (SKIP, None, None),  # never ran: due slots run
        (SKIP, JobState.COMPLETED, None),
        (SKIP, JobState.FAILED, None),
        (SKIP, JobState.QUEUED, 0),  # still waiting to run: skip
        (SKIP, JobState.STARTED, 0),  # running: skip
        (SKIP, JobState.EXECUTED, 0),  # waiting for its callback: still running
        (QUEUE_ONE, JobState.STARTED, 1),  # one may wait behind the running one
        (QUEUE_ONE, JobState.EXECUTED, 1),
        (QUEUE_ONE, JobState.QUEUED, 0),  # one already waits
        (QUEUE_ONE, JobState.CANCELLED, None),
        (ALLOW, JobState.STARTED, None),
        (ALLOW, JobState.QUEUED, None),
    ],
)
def test_runs_allowed_by_the_previous_run(
    policy: OverlapPolicy, last: JobState | None, allowed: int | None
) -> None:
    assert runs_allowed(policy, last) == allowed


PLAN = DuePlan(run_slots=(100, 200, 300), next_run_at=400, missed=0)


@pytest.mark.parametrize(
    ("bounds", "allowed", "slots", "following", "ended"),
    [
        (Bounds(), None, (100, 200, 300), 400, False),
        (Bounds(), 1, (300,), 400, False),  # the newest slot runs; the older ones skip
        (Bounds(), 0, (), 400, False),
        (Bounds(start_at=200), None, (200, 300), 400, False),
        (Bounds(end_at=200), None, (100, 200), None, True),  # the next slot is past the end
        (Bounds(end_at=400), None, (100, 200, 300), 400, False),  # the end is a last slot
        (Bounds(max_runs=5, run_count=3), None, (100, 200), None, True),
        (Bounds(max_runs=5, run_count=1), None, (100, 200, 300), 400, False),
        (Bounds(max_runs=4, run_count=3), 0, (), 400, False),  # skipped: the budget stays
        (Bounds(max_runs=3, run_count=3), None, (), None, True),
    ],
)
def test_bound_keeps_slots_inside_the_window_and_budget(
    bounds: Bounds, allowed: int | None, slots: tuple[int, ...], following: int | None,
    ended: bool,
) -> None:  # fmt: skip
    plan = bound(PLAN, bounds, allowed)
    assert (plan.run_slots, plan.next_run_at, plan.ended) == (slots, following, ended)
    assert plan.skipped == len(PLAN.run_slots) - len(slots)


HOUR = 3_600_000


@pytest.mark.parametrize(
    ("schedule", "now", "start_at", "first"),
    [
        (Schedule.interval(60), 1_000, None, 1_000),  # an interval runs at once
        (Schedule.interval(60), 1_000, 5_000, 5_000),  # ... or when it may start
        (Schedule.interval(60), 9_000, 5_000, 9_000),  # a past start changes nothing
        (Schedule.cron("0 * * * *"), 10, None, HOUR),  # the next cron slot
        (Schedule.cron("0 * * * *"), 10, 2 * HOUR, 2 * HOUR),  # the first at or after start
        (Schedule.cron("0 * * * *"), 10, 2 * HOUR + 1, 3 * HOUR),
    ],
)
def test_first_slot_respects_start_at(
    schedule: Schedule, now: int, start_at: int | None, first: int
) -> None:
    assert first_slot(schedule, now, start_at) == first
