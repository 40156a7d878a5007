"""The chaos suite's slot check: a slot run twice or skipped inside the catch-up window is
found; only the oldest slots of an outage longer than the catch-up limit may be missing."""

from __future__ import annotations

import itertools

from tests.chaos.harness import Archived, SlotProblems, missed_runs_logged, slot_problems

STEP = 100
LIMIT = 4
ids = itertools.count(1)


def tick(now: int, *slots: int) -> list[Archived]:
    """The runs one scheduler tick at `now` enqueued, oldest slot first."""
    return [
        Archived(id=next(ids), created_date=now, meta={"scheduled_for": str(slot)})
        for slot in slots
    ]


def check(*ticks: list[Archived]) -> SlotProblems:
    return slot_problems([run for runs in ticks for run in runs], STEP, max_catch_up=LIMIT)


def test_runs_on_time_and_caught_up_have_no_problem() -> None:
    # On time at 1000 (run late at 1030), then an outage: 1130..1430 due at 1450.
    found = check(tick(1030, 1000), tick(1450, 1130, 1230, 1330, 1430), tick(1550, 1550))
    assert found == SlotProblems(twice=0, skipped=0, dropped=0)


def test_a_slot_missing_inside_the_catch_up_window_is_skipped() -> None:
    assert check(tick(1000, 1000), tick(1450, 1100, 1300, 1400)).skipped == 1
    assert check(tick(1000, 1000), tick(1100, 1100), tick(1300, 1300)).skipped == 1


def test_the_oldest_slots_of_a_longer_outage_are_dropped_by_the_limit() -> None:
    # Due at 1950: 1100..1900 (nine slots); the newest four run, five are dropped.
    found = check(tick(1000, 1000), tick(1950, 1600, 1700, 1800, 1900), tick(2050, 2050))
    assert found == SlotProblems(twice=0, skipped=0, dropped=5)


def test_a_gap_before_a_batch_smaller_than_the_limit_is_a_skip() -> None:
    assert check(tick(1000, 1000), tick(1950, 1700, 1800, 1900)).skipped == 1


def test_a_slot_run_twice_is_found() -> None:
    assert check(tick(1000, 1000), tick(1100, 1100), tick(1101, 1100)).twice == 1


def test_missed_run_warnings_are_counted() -> None:
    output = (
        "x WARNING jobs.scheduler: scheduled task 'chaos': 5 missed run(s) not run (policy"
        " catch_up)\nother line\nscheduled task 'chaos': 2 missed run(s) not run (policy x)\n"
    )
    assert missed_runs_logged(output) == 7
