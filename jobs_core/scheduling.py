"""Scheduled and recurring tasks: the part of the `BackgroundJobs` facade that registers them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .clock import to_ms
from .errors import InvalidOptionError, InvalidScheduleError, JobsError, TaskNotFoundError
from .limits import check_at_most
from .options import EnqueueRequest
from .records import ScheduledTaskInfo, TaskState
from .schedule import DEFAULT_MAX_CATCH_UP, MissedRunPolicy, Schedule
from .scheduler import Scheduler, job_options, registered_run_at, resumed_run_at
from .store.task_protocol import StoredTask, TaskDefinition, TaskStore
from .task_rules import OverlapPolicy

if TYPE_CHECKING:
    from .clock import Clock
    from .engine.engine import Engine, Ticker
    from .enqueuing import JobBuilder
    from .settings import Settings
    from .store.protocol import Store


class SchedulingMixin:
    """Scheduled-task methods of `BackgroundJobs`.

    A task is stored by name; every engine's scheduler enqueues its due runs as ordinary
    jobs, each exactly once however many engines share the store.
    """

    if TYPE_CHECKING:
        store: Store
        clock: Clock
        settings: Settings
        _engine: Engine | None
        _builder: JobBuilder

    async def recurring(
        self,
        name: str,
        schedule: Schedule | str,
        command: str,
        request: Any = None,
        *,
        missed: MissedRunPolicy | str = MissedRunPolicy.RUN_ONCE,
        max_catch_up: int = DEFAULT_MAX_CATCH_UP,
        overlap: OverlapPolicy | str = OverlapPolicy.SKIP,
        start_at: datetime | None = None,
        end_at: datetime | None = None,
        max_runs: int | None = None,
        worker: str | None = None,
        retry_limit: int | None = None,
        timeout: float | None = None,
        tag: str | None = None,
        callback: str | None = None,
        user_id: str | None = None,
        reply_to: str | None = None,
        args: Mapping[str, str] | None = None,
    ) -> ScheduledTaskInfo:
        """Register (or update) the task `name`: run `command` with `request` on `schedule`.

        `schedule` is a `Schedule` or text for `Schedule.parse` ("*/5 * * * *", "every 30s",
        "@daily"). Registering the same name again updates the definition but keeps the run
        history, the next slot (unless the schedule changed) and a pause. Options are those
        of `enqueue`; `tag` defaults to the task name. Bad input is refused before anything
        is stored, with the errors `enqueue` raises or InvalidScheduleError.

        `overlap` says what a slot does while the previous run is still queued or running:
        `skip` it (the default), `queue_one` (one run may wait behind a running one), or
        `allow` it. No scheduled run comes before `start_at` or after `end_at` (aware
        datetimes), nor after `max_runs` runs; the task then shows `ended`.
        """
        if not isinstance(name, str) or not name.strip():
            raise InvalidOptionError(f"a scheduled task needs a non-empty name, got {name!r}")
        parsed = _schedule(schedule)
        policy = _policy(missed)
        if not isinstance(max_catch_up, int) or isinstance(max_catch_up, bool) or max_catch_up < 1:
            raise InvalidOptionError(f"max_catch_up must be an int >= 1, got {max_catch_up!r}")
        check_at_most(max_catch_up, "max_catch_up")
        window = _window(overlap, start_at, end_at, max_runs)
        now = self.clock.now_ms()
        (template,) = await self._builder.build(
            [EnqueueRequest(
                command=command, request=request, worker=worker, retry_limit=retry_limit,
                timeout=timeout, tag=name if tag is None else tag, callback=callback,
                user_id=user_id, reply_to=reply_to, args=args,
            )],
            now,
        )  # fmt: skip
        definition = TaskDefinition(
            name=name, schedule=parsed.to_text(), command=command,
            request_type=template.request_type, request_body=template.request_body,
            options=job_options(template), missed_policy=policy.value, max_catch_up=max_catch_up,
            **window,
        )  # fmt: skip
        await self._tasks().save_task(
            definition, now,
            lambda existing: registered_run_at(parsed, existing, now, definition.start_at),
        )  # fmt: skip
        self._tick_soon()
        return await self.scheduled_task(name)

    async def scheduled_tasks(self) -> list[ScheduledTaskInfo]:
        """Every scheduled task by name, with the state of its last job."""
        return [_info(task) for task in await self._tasks().list_tasks()]

    async def scheduled_task(self, name: str) -> ScheduledTaskInfo:
        """The task `name`; TaskNotFoundError if there is none."""
        task = await self._tasks().get_task(name)
        if task is None:
            raise _not_found(name)
        return _info(task)

    async def remove_task(self, name: str) -> None:
        """Delete the task; jobs it already enqueued stay. TaskNotFoundError if none."""
        if not await self._tasks().delete_task(name):
            raise _not_found(name)

    async def pause_task(self, name: str) -> None:
        """Stop the task's scheduled runs (run now still works) until `resume_task`."""
        if not await self._tasks().pause_task(name, self.clock.now_ms()):
            raise _not_found(name)

    async def resume_task(self, name: str) -> None:
        """Resume a paused task from its next slot after now: slots passed while paused
        are not run (the pause was deliberate), whatever the missed-run policy."""
        now = self.clock.now_ms()

        def next_run_at(task: StoredTask) -> int:
            return resumed_run_at(Schedule.from_text(task.definition.schedule), task, now)

        if not await self._tasks().resume_task(name, now, next_run_at):
            raise _not_found(name)
        self._tick_soon()

    async def run_task_now(self, name: str) -> None:
        """Ask for one run of the task now, from any process; an engine's scheduler enqueues
        it within a second. Requests made before it is taken count as one run."""
        if not await self._tasks().request_task_run(name, self.clock.now_ms()):
            raise _not_found(name)
        self._tick_soon()

    def _scheduler_ticker(self) -> Ticker | None:
        """The engine ticker that enqueues due runs, or None if the store has no tasks."""
        if not isinstance(self.store, TaskStore) or self._engine is None:
            return None
        return Scheduler(self.store, self.settings, self._engine.wake).tick

    def _tasks(self) -> TaskStore:
        if not isinstance(self.store, TaskStore):
            raise JobsError(f"the store at {self.store.location} does not support scheduled tasks")
        return self.store

    def _tick_soon(self) -> None:
        # This process's engine shares our connection, so it cannot see our commit as a
        # change made by another process: tell it directly.
        if self._engine is not None:
            self._engine.tick_soon()


def _schedule(schedule: object) -> Schedule:
    if isinstance(schedule, Schedule):
        return schedule
    if not isinstance(schedule, str):
        raise InvalidOptionError(
            f"schedule must be a Schedule or text such as '*/5 * * * *' or 'every 30s', got "
            f"{type(schedule).__name__} {schedule!r}"
        )
    return Schedule.parse(schedule)


def _policy(missed: MissedRunPolicy | str) -> MissedRunPolicy:
    try:
        return MissedRunPolicy(missed)
    except ValueError:
        known = ", ".join(p.value for p in MissedRunPolicy)
        raise InvalidOptionError(f"unknown missed-run policy '{missed}'; known: {known}") from None


def _window(overlap: object, start_at: object, end_at: object, max_runs: object) -> dict[str, Any]:
    """The overlap policy and bounds of a task, checked."""
    if not isinstance(overlap, str) or overlap not in OverlapPolicy._value2member_map_:
        known = ", ".join(p.value for p in OverlapPolicy)
        raise InvalidOptionError(f"unknown overlap policy {overlap!r}; known: {known}")
    policy = OverlapPolicy(overlap)
    start = None if start_at is None else _instant(start_at, "start_at")
    end = None if end_at is None else _instant(end_at, "end_at")
    if start is not None and end is not None and end <= start:
        raise InvalidOptionError("end_at must come after start_at")
    if max_runs is not None and (
        not isinstance(max_runs, int) or isinstance(max_runs, bool) or max_runs < 1
    ):
        raise InvalidOptionError(f"max_runs must be an int >= 1, got {max_runs!r}")
    if max_runs is not None:
        check_at_most(max_runs, "max_runs")
    return {"overlap": policy.value, "start_at": start, "end_at": end, "max_runs": max_runs}


def _instant(value: object, name: str) -> int:
    if not isinstance(value, datetime):
        raise InvalidOptionError(
            f"{name} must be a datetime with a time zone, got {type(value).__name__} {value!r}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidOptionError(
            f"{name} {value.isoformat()} is a naive datetime (no time zone); pass an aware one "
            "such as datetime(2026, 12, 1, tzinfo=UTC)"
        )
    return to_ms(value)


def _not_found(name: str) -> TaskNotFoundError:
    return TaskNotFoundError(f"there is no scheduled task '{name}'")


def _info(task: StoredTask) -> ScheduledTaskInfo:
    d = task.definition
    try:
        description = Schedule.from_text(d.schedule).describe()
    except InvalidScheduleError as error:
        description = f"invalid schedule: {error}"
    state = (
        TaskState.PAUSED if task.paused
        else TaskState.ENDED if task.ended_at is not None
        else TaskState.SCHEDULED
    )  # fmt: skip
    return ScheduledTaskInfo(
        name=d.name, schedule=d.schedule, description=description, command=d.command,
        request_body=d.request_body, paused=task.paused, missed_policy=d.missed_policy,
        next_run_at=task.next_run_at if state is TaskState.SCHEDULED else None,
        last_run_at=task.last_run_at, last_job_id=task.last_job_id,
        last_job_state=task.last_job_state, run_now_requested=task.run_now_requested,
        state=state, overlap=d.overlap, start_at=d.start_at, end_at=d.end_at,
        max_runs=d.max_runs, run_count=task.run_count,
    )  # fmt: skip
