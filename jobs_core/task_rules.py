"""Pure rules of recurring tasks beyond their schedule: overlap with the previous run, the
window `start_at`..`end_at`, and `max_runs`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .records import JobState
from .schedule import DuePlan, Schedule, ScheduleKind, next_run_after


class OverlapPolicy(StrEnum):
    """What a due slot does while the task's previous run is still queued or running."""

    SKIP = "skip"
    """Skip the slot while the previous run is queued, running or waiting for its callback.
    The default: a slow run never piles up a queue of runs behind it."""
    QUEUE_ONE = "queue_one"
    """Enqueue the slot while the previous run runs, so one run waits behind it; skip it
    while a run is still queued."""
    ALLOW = "allow"
    """Enqueue every slot, whatever the previous runs are doing."""


WAITING_STATES = frozenset({JobState.QUEUED})
RUNNING_STATES = frozenset({JobState.STARTED, JobState.EXECUTED})


def runs_allowed(policy: OverlapPolicy, last_job_state: JobState | None) -> int | None:
    """How many of the due slots may be enqueued now given the state of the task's last job
    (None: no limit). The policy looks at the previous run only: missed slots that the
    `catch_up` policy enqueues together once an outage ends are all allowed."""
    if policy is OverlapPolicy.ALLOW:
        return None
    if last_job_state in WAITING_STATES:
        return 0
    if last_job_state in RUNNING_STATES:
        return 1 if policy is OverlapPolicy.QUEUE_ONE else 0
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Bounds:
    """A task's window and run budget (epoch ms)."""

    start_at: int | None = None
    end_at: int | None = None
    max_runs: int | None = None
    run_count: int = 0
    """Scheduled runs enqueued so far."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundedPlan:
    """`due_runs`' plan within a task's overlap policy and bounds."""

    run_slots: tuple[int, ...]
    """Slots to enqueue now, oldest first."""
    next_run_at: int | None
    """The next slot; None once the task has ended."""
    ended: bool
    """No scheduled run will ever come again (past `end_at`, or `max_runs` reached)."""
    skipped: int
    """Due slots not enqueued because of overlap or bounds."""


def bound(plan: DuePlan, bounds: Bounds, allowed: int | None) -> BoundedPlan:
    """Keep the plan's slots inside the window and the run budget, then at most `allowed`
    of them (the newest: a skipped run is an old one); the task ends after `end_at` or its
    last allowed run."""
    slots = [
        s for s in plan.run_slots
        if (bounds.start_at is None or s >= bounds.start_at)
        and (bounds.end_at is None or s <= bounds.end_at)
    ]  # fmt: skip
    if bounds.max_runs is not None:
        slots = slots[: max(0, bounds.max_runs - bounds.run_count)]
    if allowed is not None:
        slots = slots[len(slots) - allowed :] if allowed else []
    runs = bounds.run_count + len(slots)
    following = plan.next_run_at
    ended = (bounds.max_runs is not None and runs >= bounds.max_runs) or (
        bounds.end_at is not None and following > bounds.end_at
    )
    return BoundedPlan(
        run_slots=tuple(slots), next_run_at=None if ended else following, ended=ended,
        skipped=len(plan.run_slots) - len(slots),
    )  # fmt: skip


def first_slot(schedule: Schedule, now: int, start_at: int | None) -> int:
    """The first slot of a task starting afresh: at once for an interval (or at `start_at`),
    the next cron slot after now (or the first at or after `start_at`)."""
    if start_at is not None and start_at > now:
        if schedule.kind == ScheduleKind.INTERVAL:
            return start_at
        return next_run_after(schedule, start_at - 1)
    if schedule.kind == ScheduleKind.INTERVAL:
        return now
    return next_run_after(schedule, now)
