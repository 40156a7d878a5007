"""The scheduler: the engine ticker that enqueues due runs of scheduled tasks, once each."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .errors import JobsError
from .flow_records import DEFAULT_QUEUE
from .schedule import MissedRunPolicy, Schedule, due_runs, next_run_after
from .settings import Settings
from .store.protocol import NewJob
from .store.task_protocol import StoredTask, TaskStore
from .task_rules import Bounds, OverlapPolicy, bound, first_slot, runs_allowed

log = logging.getLogger("jobs.scheduler")

RUN_NOW_POLL_MS = 1000
"""Longest the scheduler sleeps: a run-now request from any process is seen within this."""

CREATED_BY = "scheduler"
"""`created_by` of the jobs scheduled runs enqueue."""

JOB_OPTIONS = (
    "worker", "retry_limit", "timeout_secs", "tag", "callback", "user_id", "reply_to", "queue",
    "priority", "concurrency_key", "concurrency_limit", "unique_key", "retry_policy",
)  # fmt: skip
"""`NewJob` fields a task stores in its options, besides `args` (flow control's: the queue,
priority, key and retry policy the command gives its jobs; a command unique while active
makes a run that finds the last one still queued or running return it)."""

FLOW_DEFAULTS = {"queue": DEFAULT_QUEUE, "priority": 0, "concurrency_limit": 1}
"""Flow options a task does not store when they hold their default."""


TASK_META = "scheduled_task"
"""The meta key naming the scheduled task a job is a run of."""


class Scheduler:
    """Moves data between the store and `due_runs`; every run is enqueued with a
    compare-and-set, so several engines ticking the same slot enqueue it once."""

    def __init__(
        self, store: TaskStore, settings: Settings, on_enqueued: Callable[[], None]
    ) -> None:
        self.store = store
        self.settings = settings
        self.on_enqueued = on_enqueued
        """Called after runs were enqueued: the engine cannot see its own connection's
        commits as changes, so it must be told to claim."""

    async def tick(self, now: int) -> int:
        """Enqueue what is due at `now`; returns when the scheduler next wants a call."""
        scan = await self.store.scan_tasks(now)
        wanted = now + RUN_NOW_POLL_MS
        if scan.next_run_at is not None:
            wanted = min(wanted, scan.next_run_at)
        for task in scan.due:
            try:
                following = await self._fire(task, now)
            except (JobsError, ValueError) as error:
                # One broken task (say a row edited by hand) must not stop the others.
                log.error("scheduled task '%s': %s", task.name, error)
                continue
            if following is not None:
                wanted = min(wanted, following)
        return wanted

    async def _fire(self, task: StoredTask, now: int) -> int | None:
        """Enqueue the task's due runs; returns when to look at it again, if known.

        A refused compare-and-set means another engine ran it or it was just registered
        again: look again at once, and the fresh row decides.
        """
        following: int | None = None
        if (
            not task.paused and task.ended_at is None
            and (task.next_run_at is None or task.next_run_at <= now)
        ):  # fmt: skip
            following = await self._fire_slots(task, now)
        if task.run_now_requested:
            job = task_job(task, now, now, self.settings, run_now=True)
            job_id = await self.store.fire_task_now(task, job, now)
            if job_id is None:
                return now
            self.on_enqueued()
            log.info("scheduled task '%s' run now: job %s", task.name, job_id)
        return following

    async def _fire_slots(self, task: StoredTask, now: int) -> int | None:
        d = task.definition
        schedule = Schedule.from_text(d.schedule)
        plan = due_runs(
            schedule, next_run_at_ms=task.next_run_at, last_run_at_ms=task.last_run_at,
            now_ms=now, policy=MissedRunPolicy(d.missed_policy), max_catch_up=d.max_catch_up,
        )  # fmt: skip
        bounds = Bounds(start_at=d.start_at, end_at=d.end_at, max_runs=d.max_runs,
                        run_count=task.run_count)  # fmt: skip
        allowed = runs_allowed(OverlapPolicy(d.overlap), task.last_job_state)
        bounded = bound(plan, bounds, allowed)
        jobs = [task_job(task, slot, now, self.settings) for slot in bounded.run_slots]
        ids = await self.store.fire_task(task, bounded.next_run_at, jobs, now, ended=bounded.ended)
        if ids is None:
            return now  # nothing written: another engine ran the slot, or the task changed
        if ids:
            self.on_enqueued()
        if plan.missed:
            log.warning(
                "scheduled task '%s': %d missed run(s) not run (policy %s)",
                task.name, plan.missed, d.missed_policy,
            )  # fmt: skip
        if bounded.ended:
            log.info("scheduled task '%s' ended: no scheduled run comes again", task.name)
        return bounded.next_run_at


def task_job(
    task: StoredTask, slot: int, now: int, settings: Settings, *, run_now: bool = False
) -> NewJob:
    """The ordinary job one run of `task` enqueues, linked to it by its meta."""
    d = task.definition
    options = d.options
    meta = {TASK_META: d.name, "scheduled_for": str(slot)}
    if run_now:
        meta["run_now"] = "true"
    retry_limit = options.get("retry_limit")
    timeout = options.get("timeout_secs")
    return NewJob(
        command=d.command, request_type=d.request_type, request_body=d.request_body,
        worker=options.get("worker") or "", run_after=now,
        retry_limit=settings.default_retry_limit if retry_limit is None else retry_limit,
        timeout_secs=settings.default_timeout_secs if timeout is None else timeout,
        tag=options.get("tag"), callback=options.get("callback"),
        user_id=options.get("user_id"), reply_to=options.get("reply_to"),
        created_by=CREATED_BY, args=dict(options.get("args") or {}), meta=meta,
        queue=options.get("queue", DEFAULT_QUEUE), priority=options.get("priority", 0),
        concurrency_key=options.get("concurrency_key"),
        concurrency_limit=options.get("concurrency_limit", 1),
        unique_key=options.get("unique_key"), retry_policy=options.get("retry_policy"),
    )  # fmt: skip


def job_options(template: NewJob) -> dict[str, Any]:
    """The options a task stores from the validated job `template` registration built."""
    options: dict[str, Any] = {
        name: getattr(template, name)
        for name in JOB_OPTIONS
        if getattr(template, name) not in (None, "", FLOW_DEFAULTS.get(name, ""))
    }
    if template.args:
        options["args"] = dict(template.args)
    return options


def fresh_run_at(schedule: Schedule, now: int, start_at: int | None = None) -> int:
    """First slot of a task that has no usable history: an interval runs at once (as
    ServiceStack does), a cron expression at its next slot; not before `start_at`."""
    return first_slot(schedule, now, start_at)


def registered_run_at(
    schedule: Schedule, existing: StoredTask | None, now: int, start_at: int | None = None
) -> int | None:
    """Next slot to store when a task is registered (again).

    The same schedule keeps its next slot, so a restart neither runs nor delays anything.
    A changed schedule continues from the last run if that slot is still ahead; otherwise
    it starts afresh rather than treating the change as missed runs. No slot comes before
    `start_at`.
    """
    if existing is None:
        return fresh_run_at(schedule, now, start_at)
    kept = existing.next_run_at
    if existing.definition.schedule != schedule.to_text():
        kept = None
        if existing.last_run_at is not None:
            following = next_run_after(schedule, existing.last_run_at)
            kept = following if following > now else None
    if kept is None or (start_at is not None and kept < start_at):
        return fresh_run_at(schedule, now, start_at)
    return kept


def resumed_run_at(schedule: Schedule, task: StoredTask, now: int) -> int:
    """Next slot of a resumed task: kept if still ahead, else the first slot after now.

    Slots passed while paused were skipped on purpose, so no missed-run policy applies
    and a long pause ends without a burst.
    """
    if task.next_run_at is not None and task.next_run_at > now:
        return task.next_run_at
    return next_run_after(schedule, now)
