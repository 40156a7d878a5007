"""The store seam for scheduled tasks: their stored rows and the operations on them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from jobs_core.records import JobState

from .protocol import NewJob


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDefinition:
    """What registering a task stores: when it runs and the job each run enqueues."""

    name: str
    """Unique name of the task; registering it again updates it."""
    schedule: str
    """Stored text form of the schedule (`Schedule.to_text()`)."""
    command: str
    """Command of the job each run enqueues."""
    request_type: str
    """Qualified type name of the request."""
    request_body: str
    """The request serialised as JSON."""
    options: dict[str, Any] = field(default_factory=dict)
    """Job options, resolved at registration: worker, retry_limit, timeout_secs, tag, ..."""
    missed_policy: str = "run_once"
    """`MissedRunPolicy` value: what to do with slots missed while no engine ran."""
    max_catch_up: int = 100
    """Most missed slots the `catch_up` policy runs."""
    overlap: str = "skip"
    """`OverlapPolicy` value: what a slot does while the previous run is queued or running."""
    start_at: int | None = None
    """No scheduled run before this time (epoch ms)."""
    end_at: int | None = None
    """No scheduled run after this time (epoch ms)."""
    max_runs: int | None = None
    """Most scheduled runs; the task ends after the last."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredTask:
    """A `scheduled_task` row: the definition plus the state the scheduler keeps."""

    definition: TaskDefinition
    """What the task runs and when."""
    paused: bool = False
    """A paused task runs only when asked to run now."""
    created_at: int = 0
    """First registration (epoch ms)."""
    updated_at: int = 0
    """Last registration, pause or resume (epoch ms)."""
    next_run_at: int | None = None
    """The next slot (epoch ms); the scheduler moves it with compare-and-set."""
    last_run_at: int | None = None
    """When the last run was enqueued (epoch ms)."""
    last_job_id: int | None = None
    """Job the last run enqueued."""
    run_now_requested: bool = False
    """Some process asked for one run now; the scheduler clears it when it enqueues it."""
    revision: int = 0
    """Bumped by every registration, so a run planned from an older definition is refused."""
    run_count: int = 0
    """Scheduled runs enqueued so far (run-now runs not counted)."""
    ended_at: int | None = None
    """When the task ended (past `end_at` or `max_runs` reached): no scheduled run comes
    again unless it is registered again."""
    last_job_state: JobState | None = None
    """State of the last job; filled by `list_tasks` only."""

    @property
    def name(self) -> str:
        return self.definition.name


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskScan:
    """What the scheduler finds at one instant."""

    due: list[StoredTask]
    """Unpaused tasks whose next slot has come, and tasks asked to run now, each with the
    state of its last job (for the overlap policy)."""
    next_run_at: int | None
    """Earliest next slot after now among unpaused tasks, or None."""


@runtime_checkable
class TaskStore(Protocol):
    """Scheduled-task operations of a store. Times are UTC epoch ms passed in by the caller."""

    async def save_task(
        self,
        task: TaskDefinition,
        now: int,
        next_run_at: Callable[[StoredTask | None], int | None],
    ) -> None:
        """Insert the task, or update its definition keeping paused and its run history.

        `next_run_at(existing)` (existing is None for a new task) gives the next slot to
        store; it runs inside the write transaction, so it sees the latest row.
        """
        ...

    async def get_task(self, name: str) -> StoredTask | None:
        """The task named `name` with its last job's state, or None."""
        ...

    async def list_tasks(self) -> list[StoredTask]:
        """Every task with its last job's state, by name."""
        ...

    async def delete_task(self, name: str) -> bool:
        """Remove the task (its jobs stay); False if there is none."""
        ...

    async def pause_task(self, name: str, now: int) -> bool:
        """Stop scheduled runs of the task; False if there is none."""
        ...

    async def resume_task(
        self, name: str, now: int, next_run_at: Callable[[StoredTask], int | None]
    ) -> bool:
        """Unpause the task with the next slot `next_run_at(task)`; False if there is none.

        A task that is not paused is left as it is.
        """
        ...

    async def request_task_run(self, name: str, now: int) -> bool:
        """Ask any engine's scheduler for one run now; False if there is no such task."""
        ...

    async def scan_tasks(self, now: int) -> TaskScan:
        """Tasks due at `now` and the earliest later slot."""
        ...

    async def fire_task(
        self, task: StoredTask, next_run_at: int | None, jobs: list[NewJob], now: int,
        *, ended: bool = False,
    ) -> list[int] | None:  # fmt: skip
        """Enqueue `jobs` and move the task to `next_run_at`, in one transaction, only if the
        task is unpaused and still has the `next_run_at` and revision `task` was read with.
        The jobs count towards its `run_count`; `ended` marks it ended (`ended_at`).

        Returns the new job ids, or None (nothing written) when the row had changed: another
        engine ran the slot first, or the task was paused or registered again.
        """
        ...

    async def fire_task_now(self, task: StoredTask, job: NewJob, now: int) -> int | None:
        """Enqueue `job` and clear the run-now request in one transaction, only if the request
        is still set and the revision unchanged; the job id, or None when nothing was written.
        """
        ...
