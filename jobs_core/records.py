"""Records that cross the store boundary: jobs, summaries, pages, filters, engines."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from .fast_init import fast_init
from .retry_policy import RetryPolicy

T = TypeVar("T")


class JobState(StrEnum):
    """Where a job is in its life: queued → started → executed → completed, or failed/cancelled."""

    QUEUED = "queued"
    STARTED = "started"
    EXECUTED = "executed"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATES = frozenset({JobState.QUEUED, JobState.STARTED, JobState.EXECUTED})
"""States of a job that still lives in the queue (`background_job`)."""

TERMINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})
"""States a job never leaves by itself; only requeue brings a failed/cancelled job back."""

REQUEUEABLE_STATES = frozenset({JobState.FAILED, JobState.CANCELLED})
"""States from which an operator may requeue a job."""


class AttemptOutcome(StrEnum):
    """How one attempt of a job ended (or that it is still running)."""

    RUNNING = "running"
    """The attempt is running now."""
    COMPLETED = "completed"
    """The handler returned."""
    FAILED = "failed"
    """The handler raised (retried while attempts remain, unless the error is permanent)."""
    TIMED_OUT = "timed_out"
    """The attempt ran past its timeout and was stopped."""
    CANCELLED = "cancelled"
    """An operator (or a cancelled batch) stopped it."""
    LOST = "lost"
    """Its engine died or stopped without finishing it; another engine recovered the job."""
    INTERRUPTED = "interrupted"
    """Its engine shut down mid-attempt; the attempt was given back to the job."""
    REQUEUED = "requeued"
    """Not an attempt: an operator requeued the finished job (attempt numbers start again)."""


class DependencyPolicy(StrEnum):
    """When a job that depends on others may start."""

    COMPLETED = "completed"
    """Once every parent completed; a failed or cancelled parent cancels it. The default."""
    FINISHED = "finished"
    """Once every parent ended, whatever its state; the handler sees the parents' states."""


class BatchState(StrEnum):
    """Where a batch is in its life: open → closed → finished, or cancelled."""

    OPEN = "open"
    """Jobs may still join."""
    CLOSED = "closed"
    """No job may join (`close()`, or its declared total reached); it finishes once every
    job has ended."""
    FINISHED = "finished"
    """Closed and every job ended; its `on_complete` (and `on_success`) ran once."""
    CANCELLED = "cancelled"
    """Cancelled: its unfinished jobs were cancelled, it takes no new job, and its
    callbacks never run."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobError:
    """Why a job (or one attempt of it) failed."""

    code: str
    """Machine-readable kind: the exception type, `Timeout`, `Cancelled`, `WorkerLost`."""
    message: str
    """Human-readable message."""
    stack: str = ""
    """Formatted traceback, empty when there is none."""
    field_errors: dict[str, str] = field(default_factory=dict)
    """Per-field validation errors, when the handler reported them."""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A full job row: what `background_job`, `completed_job` and `failed_job` hold."""

    id: int
    """Unique, increasing id assigned at enqueue; never reused."""
    command: str
    """Name of the registered command that runs the job."""
    request_type: str = ""
    """Qualified type name of the request (`module.Class`, `dict`, or empty for none)."""
    request_body: str = "null"
    """The request serialised as JSON."""
    state: JobState = JobState.QUEUED
    """Current state."""
    worker: str = ""
    """Named worker that runs the job serially; empty for the concurrent default worker."""
    parent_id: int | None = None
    """Job that created or owns this one (for callbacks: the job whose result it handles)."""
    depends_on: int | None = None
    """Job that must complete before this one may start."""
    ref_id: str | None = None
    """Unique reference chosen by the caller."""
    tag: str | None = None
    """Free-form group name."""
    callback: str | None = None
    """Command run with the result once the job succeeds."""
    batch_id: str | None = None
    """Groups jobs enqueued together."""
    created_by: str | None = None
    """Who enqueued the job."""
    user_id: str | None = None
    """User the job runs as; resolved by the app's user resolver at execution."""
    reply_to: str | None = None
    """Where to send the result (ReplyTo mini-language); shown only masked."""
    run_after: int = 0
    """Earliest start time (epoch ms)."""
    created_date: int = 0
    """Enqueue time (epoch ms)."""
    started_date: int | None = None
    """Start of the latest attempt (epoch ms)."""
    completed_date: int | None = None
    """When the job reached a terminal state (epoch ms)."""
    notified_date: int | None = None
    """When its callback/reply finished (epoch ms)."""
    last_activity_date: int | None = None
    """Last progress, status or log update (epoch ms)."""
    retry_limit: int = 2
    """Retries after the first attempt."""
    attempts: int = 0
    """Attempts started so far, including one lost with its engine."""
    timeout_secs: float = 600.0
    """Longest an attempt may run."""
    duration_ms: int | None = None
    """Length of the last attempt."""
    progress: float | None = None
    """Handler-reported progress, 0..1."""
    status: str | None = None
    """Handler-reported status text."""
    logs: str = ""
    """Log lines the handler wrote, newline-separated; past `Settings.max_log_chars` the
    oldest whole lines are dropped and a `[... N earlier characters truncated]` line leads."""
    logs_truncated: bool = False
    """Whether older log lines were dropped to keep the logs under the cap."""
    response_type: str | None = None
    """Qualified type name of the result."""
    response_body: str | None = None
    """The result serialised as JSON."""
    error: JobError | None = None
    """Why the job failed or was cancelled."""
    args: dict[str, str] = field(default_factory=dict)
    """Free-form string arguments attached at enqueue."""
    meta: dict[str, str] = field(default_factory=dict)
    """Engine-maintained string metadata (e.g. the scheduled task that created the job)."""
    owner: str | None = None
    """Id of the engine running the job while it runs; once it ended (or is executed), the
    engine that ran its last attempt. None while queued."""
    queue: str = "default"
    """The queue it runs in: its concurrency, pause and rate limit apply (a named worker's
    jobs are in the queue of the worker's name)."""
    priority: int = 0
    """Higher runs first among the due jobs of its queue; equals run oldest first."""
    expires_at: int | None = None
    """Unless started by then (epoch ms), it never starts and ends cancelled (`Expired`)."""
    concurrency_key: str | None = None
    """At most `concurrency_limit` jobs with this key run at once, store-wide."""
    concurrency_limit: int = 1
    """How many jobs sharing its `concurrency_key` may run at once."""
    unique_key: str | None = None
    """While the job is queued or running, an enqueue with this key returns it instead of
    adding a job."""
    retry_policy: RetryPolicy | None = None
    """Its own retry policy (backoff, errors retried), if it was given one at enqueue."""
    last_outcome: AttemptOutcome | None = None
    """How the attempt that failed or cancelled the job ended (failed, timed out, cancelled,
    lost); None otherwise (a completed job's last attempt completed)."""
    notify_error: str | None = None
    """Why its `reply_to` delivery failed for good (None when delivered or not due);
    `notified_date` is set only when the reply was delivered."""
    dependencies: list[int] = field(default_factory=list)
    """Every job this one depends on when `depends_on` was given several (`depends_on`
    holds the first); empty for none or one."""
    depends_on_batch: str | None = None
    """Batch this job waits for: it may start once the batch has finished."""
    depends_policy: DependencyPolicy = DependencyPolicy.COMPLETED
    """`completed`: every parent must complete (a failed or cancelled one cancels this job);
    `finished`: the job runs once its parents end in any state."""
    progress_estimated: bool = False
    """`progress` is an estimate (the handler reported none): elapsed time over the median
    duration of the command's recent completions. Set only on running jobs the admin API
    returns; never stored."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSummary:
    """The small row kept for every job ever created (`job_summary`)."""

    id: int
    command: str
    state: JobState
    worker: str = ""
    parent_id: int | None = None
    depends_on: int | None = None
    ref_id: str | None = None
    tag: str | None = None
    batch_id: str | None = None
    created_by: str | None = None
    user_id: str | None = None
    callback: str | None = None
    request_type: str = ""
    response_type: str | None = None
    created_date: int = 0
    started_date: int | None = None
    completed_date: int | None = None
    duration_ms: int | None = None
    attempts: int = 0
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobResult:
    """A job as `get_job` finds it: its summary plus its full row wherever it lives."""

    summary: JobSummary
    queued: Job | None = None
    """The row while the job is in the queue (queued, started or executed)."""
    completed: Job | None = None
    """The row once completed."""
    failed: Job | None = None
    """The row once failed or cancelled."""

    @property
    def job(self) -> Job | None:
        """The full row, wherever it is; None if its month database was removed."""
        return self.queued or self.completed or self.failed

    @property
    def state(self) -> JobState:
        return self.summary.state


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class JobRef:
    """What enqueue returns: enough to find the job again."""

    id: int
    ref_id: str | None = None
    existing: bool = False
    """True when the enqueue found the job already there (`on_conflict="return_existing"`
    or `"replace"`, or a command that is unique while active) and added none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobFilter:
    """Filters for listing jobs; every set field must match exactly (text: substring)."""

    command: str | None = None
    tag: str | None = None
    batch_id: str | None = None
    created_by: str | None = None
    user_id: str | None = None
    ref_id: str | None = None
    worker: str | None = None
    queue: str | None = None
    state: JobState | None = None
    text: str | None = None
    """Substring searched in command, status, error message and request JSON."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    """One page of a keyset-paginated listing, newest first unless stated."""

    items: list[T]
    next_cursor: int | None
    """Pass as `before` to get the next page; None when there are no more."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MonthDatabase:
    """A monthly archive database file."""

    month: str
    """`YYYY-MM`."""
    path: str
    size_bytes: int
    error: str | None = None
    """Why the file cannot be read or written (corrupt, truncated, disk full), naming it;
    None when it works. The other months and the live store are not affected."""


class EngineState(StrEnum):
    """What an engine's row says about it, as of the moment it was read."""

    ALIVE = "alive"
    """Its heartbeats arrive on time."""
    STALE = "stale"
    """Its lease still holds but heartbeats are overdue (more than half the lease without
    one): hung, overloaded or about to be declared dead. It still owns its jobs."""
    DEAD = "dead"
    """Gone without stopping: its process is absent from its host, or its lease lapsed.
    Its running jobs are (or will be) requeued by a live engine."""
    STOPPED = "stopped"
    """Shut down cleanly."""


LIVE_ENGINE_STATES = frozenset({EngineState.ALIVE, EngineState.STALE})
"""States of an engine that may still be running jobs (`EngineInfo.alive`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineInfo:
    """A running (or recently dead) engine, as its heartbeat row shows it."""

    id: str
    host: str
    pid: int
    started_at: int
    heartbeat_at: int
    lease_expires_at: int
    workers: list[str]
    commands: list[str]
    concurrency: int
    running: int
    processed: int
    failed: int
    alive: bool
    """Whether it may still be running jobs: its state is alive or stale."""
    state: EngineState = EngineState.ALIVE
    """Alive, stale, dead or stopped; when not given, alive or stopped after `alive`."""
    reason: str = ""
    """Why it is stale, dead or stopped, in words (empty while alive)."""

    def __post_init__(self) -> None:
        # Records built by hand with only `alive` (as before states existed) stay coherent.
        if not self.alive and self.state in LIVE_ENGINE_STATES:
            object.__setattr__(self, "state", EngineState.STOPPED)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExposedFile:
    """A store directory or database file that users other than its owner can access."""

    path: str
    mode: int
    """Its permission bits now, e.g. 0o644."""
    wanted_mode: int
    """What jobs creates it with: 0o700 for the directory, 0o600 for a file."""

    @property
    def fix(self) -> str:
        """The shell command that makes it private."""
        return f"chmod {self.wanted_mode:o} {shlex.quote(self.path)}"

    def __str__(self) -> str:
        return f"{self.path} is open to other users (mode {self.mode:o}); fix: {self.fix}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningJob:
    """A job an engine is running now, for the workers view."""

    id: int
    command: str
    worker: str
    owner: str | None
    started_date: int | None
    progress: float | None
    status: str | None
    progress_estimated: bool = False
    """`progress` is an estimate from the command's recent durations (the handler reported
    none)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeReport:
    """What `jobs.purge()` removed (or, with `dry_run`, would remove)."""

    older_than: int
    """Jobs that finished before this time (epoch ms) were removed."""
    removed: dict[JobState, int]
    """Jobs removed, by state."""
    months_dropped: list[str]
    """Whole months (`YYYY-MM`) removed at once: their file, or their partitions."""
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.removed.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchStatus:
    """A batch and the progress of the jobs sharing its `batch_id`."""

    batch_id: str
    counts: dict[JobState, int]
    """Jobs of the batch by state."""
    total: int
    """Jobs that joined the batch so far (callbacks and replies of its jobs included)."""
    done: int
    """Jobs in a terminal state."""
    failed_ids: list[int]
    started_at: int | None
    """When its first job started."""
    finished_at: int | None
    """When its last job finished, once every job is done."""
    state: BatchState = BatchState.OPEN
    """Open, closed, finished or cancelled."""
    name: str | None = None
    """The name given to `create_batch`; None for a batch only named by its jobs."""
    declared_total: int | None = None
    """The number of jobs `create_batch(total=...)` announced; the batch closes once that
    many joined."""
    on_complete: str | None = None
    """Command run once, with a `BatchCompleted` request, when the closed batch finishes."""
    on_success: str | None = None
    """Command run once as well when none of its jobs failed or was cancelled."""
    meta: dict[str, str] = field(default_factory=dict)
    """Strings given to `create_batch`, passed on to its callbacks."""
    created_at: int | None = None
    closed_at: int | None = None
    cancelled_at: int | None = None
    callback_ids: list[int] = field(default_factory=list)
    """The jobs its `on_complete` and `on_success` enqueued when it finished."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchCompleted:
    """The request a batch's `on_complete` and `on_success` commands receive."""

    batch_id: str
    name: str | None
    total: int
    """Jobs of the batch."""
    completed: int
    failed: int
    cancelled: int
    failed_ids: list[int]
    """Ids of its failed jobs, oldest first (at most `FAILED_IDS_LIMIT`)."""
    meta: dict[str, str]
    finished_at: int
    """When its last job ended (epoch ms)."""

    @property
    def succeeded(self) -> bool:
        """Whether every job completed."""
        return self.failed == 0 and self.cancelled == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class JobAttempt:
    """One attempt of a job (or a requeue, an event between attempts), as `jobs.attempts()`
    lists them, oldest first."""

    job_id: int
    number: int
    """1 for the first attempt; numbering starts again after a requeue; 0 for a requeue."""
    outcome: AttemptOutcome
    engine: str | None = None
    """Id of the engine that ran it."""
    host: str | None = None
    """Host of that engine."""
    started_date: int | None = None
    ended_date: int | None = None
    duration_ms: int | None = None
    error: JobError | None = None
    """Its error (code, message, traceback) when it failed, timed out, was cancelled or lost."""
    progress: float | None = None
    """Its last reported progress."""
    status: str | None = None
    """Its last reported status text."""
    logs: str = ""
    """The log lines written during this attempt."""
    logs_truncated: bool = False
    """Some of its lines were dropped by the job's log cap (`Settings.max_log_chars`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ThroughputBucket:
    """Jobs that finished in one minute."""

    minute_start: int
    completed: int
    failed: int
    cancelled: int = 0


class TaskState(StrEnum):
    """Whether a scheduled task will run again by itself."""

    SCHEDULED = "scheduled"
    """It runs at `next_run_at`."""
    PAUSED = "paused"
    """Paused by an operator: no scheduled run until resumed (run now still works)."""
    ENDED = "ended"
    """Past its `end_at` or its `max_runs`: it runs no more (run now still works)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandFigures:
    """What one command's jobs did over a window of time."""

    command: str
    completed: int
    failed: int
    cancelled: int
    p50_ms: int | None
    """Median duration of the finished attempts (completed and failed), from a histogram."""
    p95_ms: int | None

    @property
    def runs(self) -> int:
        """Jobs that ran to an end: completed or failed."""
        return self.completed + self.failed

    @property
    def failure_rate(self) -> float | None:
        """Failed / (completed + failed); None when none ran."""
        return self.failed / self.runs if self.runs else None


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkResult:
    """What a bulk cancel, requeue or delete did."""

    matched: int
    """Jobs the target named (for a query: how many matched when the action started)."""
    done: int
    """Jobs changed: cancelled, requeued (with the dependents brought back) or deleted."""
    asked: int = 0
    """Running jobs whose engine was asked to stop them (cancel)."""
    skipped: int = 0
    """Jobs in a state the action does not apply to, or changed meanwhile."""

    def summary(self, action: str) -> str:
        """`requeued 3 of 4 matching jobs (1 skipped: …)` for `cancel`, `requeue`, `delete`."""
        done = {"cancel": "cancelled", "requeue": "requeued", "delete": "deleted"}[action]
        text = f"{done} {self.done:,} of {self.matched:,} matching jobs"
        if self.asked:
            text += f", asked engines to stop {self.asked:,} running"
        if self.skipped:
            text += f" ({self.skipped:,} skipped: not in a state {action} applies to)"
        return text


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledTaskInfo:
    """A scheduled task as the admin sees it, with the state of its last job."""

    name: str
    schedule: str
    """Stored text form of the schedule (`Schedule.to_text()`)."""
    description: str
    """The schedule in words, e.g. "daily at 02:00 (UTC)"."""
    command: str
    request_body: str
    paused: bool
    missed_policy: str
    next_run_at: int | None
    last_run_at: int | None
    last_job_id: int | None
    last_job_state: JobState | None
    run_now_requested: bool
    state: TaskState = TaskState.SCHEDULED
    """Scheduled, paused or ended; `next_run_at` is None unless scheduled."""
    overlap: str = "skip"
    """`OverlapPolicy` value: what a slot does while the previous run is queued or running."""
    start_at: int | None = None
    """No run before this time (epoch ms)."""
    end_at: int | None = None
    """No run after this time (epoch ms)."""
    max_runs: int | None = None
    """Most scheduled runs (run-now runs not counted)."""
    run_count: int = 0
    """Scheduled runs enqueued so far."""

    @property
    def next_run_text(self) -> str:
        """What to show for the next run: "paused", "ended", or empty (show the time)."""
        return "" if self.state is TaskState.SCHEDULED else self.state.value


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestShape:
    """The fields a command's request type takes, as JSON: enough to check a request at
    enqueue in a process that lacks the type (the CLI, a web tier)."""

    type_name: str
    """Qualified name of the request type, e.g. `app.mail.SendEmail`."""
    required: dict[str, str] = field(default_factory=dict)
    """Required field → JSON kind (`string`, `integer`, `number`, `boolean`, `array`,
    `object`, `any`; `|null` appended when null is allowed)."""
    optional: dict[str, str] = field(default_factory=dict)
    """Fields with a default → JSON kind, as for `required`."""
    closed: bool = True
    """Whether fields not listed are refused (dataclasses, TypedDicts, pydantic models with
    `extra="forbid"`); a pydantic model that ignores extra fields is open."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandDefinition:
    """A command as an engine declared it in the store, for processes without its handler."""

    name: str
    worker: str = ""
    """Named worker all its jobs go to (one at a time); empty for the default worker."""
    retry_limit: int | None = None
    """Its retry limit, or None for the engine default."""
    timeout_secs: float | None = None
    """Its timeout, or None for the engine default."""
    request_type: str = ""
    """Qualified name of the handler's request type; empty when it takes no request."""
    shape: RequestShape | None = None
    """The request's fields, when the type is a dataclass, pydantic model or TypedDict."""
    declared_by: str = ""
    """Id of the engine that declared it last."""
    declared_at: int = 0
    """When it was declared last (epoch ms); the newest declaration wins."""
    queue: str | None = None
    """Its queue; None for the default queue (or its worker's, with a worker)."""
    priority: int | None = None
    """Its jobs' default priority; None for 0."""
    concurrency_key: str | None = None
    """Its key template over request fields (`user:{user_id}`), or a fixed key."""
    concurrency_key_computed: bool = False
    """Its key is computed by a function in the app's code: a process without the handler
    must give `concurrency_key` explicitly."""
    concurrency_limit: int | None = None
    """Jobs with one key that may run at once; None for 1."""
    unique_while_active: bool = False
    """An enqueue of an equal request while one is queued or running returns that job."""
    expires_in_secs: float | None = None
    """Its jobs expire this long after they become due unless started; None for never."""

    @property
    def has_flow(self) -> bool:
        """Whether it sets a flow option for its jobs."""
        return (
            self.queue is not None or bool(self.priority) or self.concurrency_key is not None
            or self.concurrency_key_computed or self.unique_while_active
            or self.expires_in_secs is not None
        )  # fmt: skip
