"""The store seam: domain operations the engine and the admin API need from a backend."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from copy import copy
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

from jobs_core.fast_init import fast_init
from jobs_core.flow import WaitFacts
from jobs_core.flow_records import QueueInfo, QueueSettings
from jobs_core.query import JobQuery
from jobs_core.records import (
    AttemptOutcome,
    BatchStatus,
    CommandDefinition,
    DependencyPolicy,
    EngineInfo,
    ExposedFile,
    Job,
    JobError,
    JobResult,
    JobState,
    JobSummary,
    MonthDatabase,
    Page,
    RunningJob,
    ThroughputBucket,
)


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class NewJob:
    """A job to insert; the store assigns its id."""

    command: str
    request_type: str
    request_body: str
    worker: str
    run_after: int
    retry_limit: int
    timeout_secs: float
    parent_id: int | None = None
    depends_on: int | None = None
    ref_id: str | None = None
    tag: str | None = None
    callback: str | None = None
    batch_id: str | None = None
    created_by: str | None = None
    user_id: str | None = None
    reply_to: str | None = None
    args: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    queue: str = "default"
    """Its queue; a job with a `worker` is always in the queue of the worker's name."""
    priority: int = 0
    expires_at: int | None = None
    concurrency_key: str | None = None
    concurrency_limit: int = 1
    unique_key: str | None = None
    retry_policy: str | None = None
    """The job's own `RetryPolicy` as JSON (`retry_policy.policy_to_json`), or None."""
    on_conflict: str = "raise"
    """When `ref_id` is taken: `raise`, `return_existing` or `replace` (see `OnConflict`)."""
    dependencies: list[int] = field(default_factory=list)
    """Every parent when there are several (`depends_on` is the first); empty otherwise."""
    depends_on_batch: str | None = None
    """A batch the job waits for (it must have finished)."""
    depends_policy: DependencyPolicy = DependencyPolicy.COMPLETED
    """Whether every parent must complete, or only end."""

    @property
    def waits(self) -> bool:
        """Whether the job has more than one parent, a batch parent or a non-default policy
        (the rare path: its dependencies are read and recorded in `job_dependency`)."""
        return bool(
            self.dependencies or self.depends_on_batch is not None
            or self.depends_policy is not DependencyPolicy.COMPLETED
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Routing:
    """Each job's queue, priority and concurrency key, as columns (`JobColumns.routing`):
    a batch whose requests set these and no other option (`throughput.py`'s mixed
    workload) makes no record per job either."""

    queues: Sequence[str]
    priorities: Sequence[int]
    keys: Sequence[str | None]
    key_limit: int = 1
    """The concurrency limit of a job with a key (one without has 1, as `NewJob`'s default)."""

    def fields(self) -> list[dict[str, Any]]:
        """Each job's `NewJob` fields these set."""
        limit = self.key_limit
        return [
            {"queue": q, "priority": p, "concurrency_key": k,
             "concurrency_limit": 1 if k is None else limit}
            for q, p, k in zip(self.queues, self.priorities, self.keys, strict=True)
        ]  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class JobColumns:
    """Jobs alike but for their requests (`Store.enqueue_columns`): one `NewJob` gives every
    field but the request's, and each job's request type and body come in a column, so a
    batch of one command with one set of options makes no record per job."""

    job: NewJob
    """Every job's fields; its `request_type` and `request_body` are not used, nor, with
    `routing`, its queue, priority, concurrency key and limit."""
    request_types: Sequence[str]
    request_bodies: Sequence[str]
    routing: Routing | None = None
    """Each job's queue, priority and key (None: the template's, `job`'s)."""

    def __len__(self) -> int:
        return len(self.request_bodies)

    def new_jobs(self) -> list[NewJob]:
        """The jobs as `NewJob`s, in order (for a store, or a batch, with no way of its own).

        Only the fields `job` sets are passed (`dataclasses.replace` passes all 27: 4 times the
        time); each job gets its own `args`, `meta` and `dependencies`."""
        job = self.job
        given = {
            name: value for name, default in _NEW_JOB_DEFAULTS
            if (value := getattr(job, name)) is not default and value != default
        }  # fmt: skip
        copied = [name for name in ("args", "meta", "dependencies") if getattr(job, name)]
        jobs: list[NewJob] = []
        routes = self.routing.fields() if self.routing else [{}] * len(self)
        for t, b, route in zip(self.request_types, self.request_bodies, routes, strict=True):
            for name in copied:
                given[name] = copy(getattr(job, name))
            given |= route  # every job's sets the same names: none is left from the last
            jobs.append(NewJob(request_type=t, request_body=b, **given))
        return jobs


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    return MISSING if f.default_factory is MISSING else f.default_factory()


_NEW_JOB_DEFAULTS = [
    (f.name, _default(f)) for f in fields(NewJob) if f.name not in ("request_type", "request_body")
]
"""`NewJob`'s fields but the request's, each with its default (a required field's is MISSING,
which no value equals)."""


class EnqueuedIds(list[int]):
    """The ids `Store.enqueue` returns, in order; `reused` holds the positions (in the call)
    of jobs that were already there instead of being added: a taken `ref_id` with
    `on_conflict` other than `raise`, a `unique_key` held by a queued or started job, or the
    same unique key earlier in the call."""

    def __init__(self, ids: Iterable[int] = (), reused: set[int] | None = None) -> None:
        super().__init__(ids)
        self.reused: set[int] = reused or set()


class ClaimedJobs(list[Job]):
    """The jobs a default-worker claim took (`Store.claim`, `Store.finish_and_claim`), and
    whether they were every job the claim found ready (`exhausted`): nothing was held back
    by a queue's pause, concurrency or rate limit, or a key's limit, so a claim that came
    back short left no ready job behind. False when the store cannot tell (a plain list
    means the same): the engine then never lets its next claim wait for more jobs
    (`engine/claiming.py`'s linger), which would idle the room a limit lets free."""

    def __init__(self, jobs: Iterable[Job] = (), *, exhausted: bool = False) -> None:
        super().__init__(jobs)
        self.exhausted = exhausted


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueChange:
    """What `Store.set_queue` changes; a field left None keeps its value."""

    concurrency: int | None = None
    clear_concurrency: bool = False
    """Remove the concurrency limit."""
    paused: bool | None = None
    rate_limit: int | None = None
    rate_per_ms: int | None = None
    clear_rate_limit: bool = False
    """Remove the rate limit."""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """What one finished attempt (or an engine rule) does to a job row."""

    job_id: int
    state: JobState
    """New state: queued (retry), executed, completed, failed or cancelled."""
    owner_guard: str | None
    """When set, apply only while the job is still owned by this engine."""
    run_after: int | None = None
    """For a retry: when the next attempt may start."""
    duration_ms: int | None = None
    response_type: str | None = None
    response_body: str | None = None
    error: JobError | None = None
    logs: str = ""
    """Log text to append (already newline-terminated)."""
    progress: float | None = None
    status: str | None = None
    notified: bool = False
    """Set `notified_date` (the callback or reply finished)."""
    refund_attempt: bool = False
    """Give the attempt back (the engine shut down mid-attempt; not the job's fault)."""
    outcome: AttemptOutcome | None = None
    """How the attempt owned by `owner_guard` ended; None for a transition that ends no
    attempt (a cancel while queued, a callback moving the job it served)."""
    notify_error: str | None = None
    """Why the job's reply could not be delivered (its reply job failed for good)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityUpdate:
    """Progress, status and log lines a running handler reported since the last flush."""

    job_id: int
    logs: str = ""
    progress: float | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishResult:
    """What a `finish` call did beyond the transitions themselves."""

    applied: list[int]
    """Job ids whose transition applied (the rest were no longer owned by the engine)."""
    cancelled_dependents: list[int]
    released_dependents: list[int]
    new_job_ids: list[int]
    finished_batches: list[str] = field(default_factory=list)
    """Batches this call finished (their callbacks are among `new_job_ids`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchCallback:
    """A command a batch runs when it finishes, resolved when the batch is created (so the
    store needs no registry): the job it enqueues gets a `BatchCompleted` request."""

    command: str
    worker: str = ""
    retry_limit: int = 2
    timeout_secs: float = 600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class NewBatch:
    """A batch to record before its jobs join."""

    id: str
    name: str | None = None
    on_complete: BatchCallback | None = None
    on_success: BatchCallback | None = None
    meta: dict[str, str] = field(default_factory=dict)
    declared_total: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DurationTally:
    """Jobs of one command that ended in one state with durations in one bucket."""

    command: str
    state: JobState
    bucket: int
    """Index into `jobs_core.figures.DURATION_BOUNDS_MS` (its length: longer; -1: none)."""
    n: int
    total_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkOutcome:
    """What one batch of a bulk cancel, requeue or delete did."""

    done: list[int]
    """Ids changed (for requeue: with the dependents their failure had cancelled)."""
    asked: list[int] = field(default_factory=list)
    """Running jobs whose engine was asked to stop them (cancel)."""
    skipped: list[int] = field(default_factory=list)
    """Ids the action does not apply to (wrong state, unknown, changed meanwhile)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineRegistration:
    """What an engine tells the store about itself when it starts."""

    id: str
    host: str
    pid: int
    workers: list[str]
    commands: list[str]
    concurrency: int


class Store(Protocol):
    """A backend holding the live queue, the summaries and the archive.

    Times are UTC epoch milliseconds passed in by the caller; a store never reads the clock.
    """

    location: str
    """Where the store is, safe to print: a directory, or a URL with its password masked."""

    concurrent_writes: bool
    """Whether writes wait on I/O that can overlap (a server's round trips, several
    connections): the engine then writes outcomes in the background while it claims the
    next jobs. False for SQLite, whose writes run on the loop's thread: there is nothing to
    overlap, and the background task only cost time (measured; with the outcomes written in
    a thread of the store's own it lost too: bench/README.md, "SQL beside the loop's
    Python")."""

    outcomes_behind: bool
    """Whether the engine writes outcomes in the background of its dispatch loop, lingering
    a little to group them (`engine/outcomes.py`), rather than with its next claim. True
    where an outcome write waits on something a claim need not: PostgreSQL's round trips
    (`concurrent_writes`), and SQLite at `Durability.FULL`, where an outcome's commit waits
    for an fsync (~0.1-0.3 ms) while a claim's does not: written with each claim, a job fed
    at a time paid an fsync each, holding the write lock that the producers wait for."""

    async def open(self) -> None:
        """Connect, and create or check the store now (every other call does it on demand).

        Raises StoreNotFoundError, SchemaTooNewError, StoreUnavailableError, ... naming the
        store, so a process can refuse a bad location before doing anything else.
        """
        ...

    async def enqueue(self, jobs: list[NewJob], now: int) -> EnqueuedIds:
        """Insert `jobs` in one transaction and return their ids in order.

        Raises DuplicateRefIdError naming the ref_id if one is taken (nothing is inserted;
        `existing_id` is the job holding it), JobNotFoundError if a parent (`depends_on`,
        `dependencies`) does not exist, BatchNotFoundError if `depends_on_batch` names no
        batch, BatchCancelledError if a job's `batch_id` names a cancelled batch and
        BatchClosedError a closed or finished one, or one whose declared total would be
        passed (checked in the same transaction, so no job slips into a batch being cancelled
        or closed). A `batch_id` not seen before is recorded as an open batch; jobs that join
        a batch are counted on it. A job whose parents already decide it (policy `completed`
        and a failed or cancelled parent, or batch) is inserted cancelled; one with a parent
        still pending waits (`waiting_on` holds a pending parent, a batch as minus its
        number); the claim never reads anything else.

        Concurrent calls may share one transaction (group commit, `store/group_commit.py`):
        each still returns only once its jobs are committed, and gets its own ids or its own
        error (another caller's refusal never fails it). A call cancelled while it waits
        for its transaction stores nothing if that transaction had not taken it yet, else
        its jobs once, when that transaction commits; never twice.

        Flow control: a taken `ref_id` with `on_conflict="return_existing"` returns the job
        holding it; with `"replace"` it also sets that job's request and `run_after` if it is
        still queued (DuplicateRefIdError if it is not). A `unique_key` held by a queued or
        started job returns that job; two jobs of one call with one key are one job. Ids of
        jobs that were already there are in the result's `existing`. Holds under concurrent
        enqueues from many processes: two enqueues never both insert one key.
        """
        ...

    async def enqueue_columns(self, jobs: JobColumns, now: int) -> EnqueuedIds:
        """`enqueue` of `jobs.new_jobs()`, with the same result, errors and durability; a
        store may insert them without making a record per job (SQLite builds their rows
        from the columns, before it takes the write lock)."""
        ...

    async def claim(
        self, *, owner: str, commands: list[str], named: bool, limit: int, now: int,
        finished: Sequence[int] = (),
    ) -> list[Job]:  # fmt: skip
        """Atomically mark up to `limit` eligible queued jobs started and owned by `owner`.

        Eligible: queued, due (`run_after <= now`), not expired (`expires_at > now`), not
        waiting on a parent, command in `commands`, and let through by flow control, decided
        in the claim transaction across every engine of the store: its queue not paused,
        under its concurrency and under its rate limit (starts in any window of its length);
        its concurrency key under its limit. Within a queue, higher `priority` first, then
        `run_after`, `id`; queues take turns (the first job of each, then the second, ...).
        `named=False` claims default-worker jobs; `named=True` claims the first due job of
        each named worker that has no started job (one at a time, in order: a first job held
        by its key holds the worker).

        `finished`: ids of `owner`'s jobs whose handlers have ended and whose outcomes are
        not yet written (an engine that writes outcomes beside its claims): they no longer
        run, so a store may leave them out of its queues' and keys' running counts (one
        still `started` by `owner`; a job written meanwhile, or claimed again by another
        engine, counts as stored). A store that writes outcomes before claims may ignore it.

        A store that can tell returns `ClaimedJobs`, saying whether a default claim took
        every ready job it found (`exhausted`, for the engine's linger); a plain list or
        `exhausted=False` means it cannot (PostgreSQL).
        """
        ...

    async def finish(
        self, transitions: list[Transition], new_jobs: list[NewJob], now: int
    ) -> FinishResult:
        """Apply transitions and insert jobs (callbacks, replies) in one transaction.

        A job that ends moves its waiting dependents on: released once no parent is pending
        (policy `finished`: whatever the states; `completed`: when all completed), while a
        failed or cancelled job cancels, transitively, the dependents of policy `completed`,
        each with the reason. A transition with an `outcome` that requeues its job (a retry,
        a lost or interrupted attempt) keeps that attempt as a history row; the attempt that
        ends a job stays in its row (`owner`, and `last_outcome` when it failed). Terminal
        jobs are counted on their batches; a closed batch whose last job ended finishes here,
        once, and its callbacks are inserted (`finished_batches`). `new_jobs` are follow-ups
        of jobs already admitted (callbacks, replies): inserted even into a closed or
        cancelled batch. Appended logs are capped as `record_activity` says. Every job that
        reaches a terminal state is tallied (minute, command, state, duration bucket) in the
        same transaction, for `duration_tallies`.
        """
        ...

    async def finish_and_claim(
        self, transitions: list[Transition], new_jobs: list[NewJob], now: int, *,
        owner: str, commands: list[str], limit: int,
    ) -> tuple[FinishResult, list[Job]]:  # fmt: skip
        """`finish`, then `claim(named=False)` of up to `limit` jobs at `now`, as those two
        say; the claim sees what the finish released.

        SQLite: one transaction (one write lock and one commit per dispatch turn of an
        engine instead of two): if either fails, neither is applied. PostgreSQL: the two
        calls, one after the other (the engine does not use this there: its writes overlap
        its claims, `concurrent_writes`); a claim that fails raises after the finish
        committed, and a finish applied again changes nothing (its transitions are guarded
        by their owner).
        """
        ...

    async def record_activity(self, updates: list[ActivityUpdate], now: int) -> None:
        """Append logs and set progress/status of running jobs, in one transaction.

        Logs longer than `Settings.max_log_chars` keep their newest whole lines behind one
        `[... N earlier characters truncated]` line (`log_cap.cap_logs`), and the job's
        `logs_truncated` becomes true.
        """
        ...

    async def archive_finished(self, now: int, limit: int, *, in_order: bool = False) -> int:
        """Move up to `limit` finished jobs to the month database of their completion date.

        `in_order` (an engine's passes while it runs): a store whose archive costs more for
        jobs finished out of id order may keep a finished job back while an older one is
        still active, for at most about a second (SQLite: `archive_order.py`; PostgreSQL
        takes them all). Without it every finished job may go.

        A month that cannot be written (corrupt, full) keeps its jobs in the live store, is
        retried later with a growing pause and reports the error in `months()`; the other
        months are archived meanwhile. Raises only when the live store itself fails.
        """
        ...

    async def next_due(self, now: int) -> int | None:
        """Earliest future `run_after` among queued jobs, or None."""
        ...

    def change_token(self) -> int:
        """A number that changes when another connection commits (cheap; no I/O wait).

        It may also change when nothing did (a backend that lost track says so); callers
        only look again. On SQLite it is `PRAGMA data_version`; on PostgreSQL a counter of
        notifications from other connections."""
        ...

    def on_change(self, callback: Callable[[], None] | None) -> None:
        """Call `callback` (on the event loop that watches changes) as soon as a change by
        another connection is known, or stop calling it (None). A backend told of changes
        (PostgreSQL's LISTEN) calls it at once, so an idle engine wakes without waiting for
        its next poll; one that only polls (SQLite's `data_version`) never calls it."""
        ...

    async def register_engine(self, engine: EngineRegistration, now: int, lease_ms: int) -> None:
        """Record a starting engine and its lease."""
        ...

    async def heartbeat(
        self, engine_id: str, now: int, lease_ms: int, running: int, processed: int, failed: int
    ) -> None:
        """Renew the engine's lease and publish its figures."""
        ...

    async def stop_engine(self, engine_id: str, now: int) -> None:
        """Mark the engine stopped; jobs it still owns become recoverable at once."""
        ...

    async def recover_lost(self, now: int, dead: list[str]) -> list[int]:
        """Requeue (attempt counted), fail or cancel jobs whose owning engine is gone.

        Gone: stopped, lease lapsed before `now`, or listed in `dead` (engines whose process
        the caller found absent from their host). The `dead` engines are also recorded as
        dead (`EngineState.DEAD` with the reason) in the same transaction, so every reader,
        on any host, sees them dead at once rather than when their lease lapses.
        """
        ...

    async def cancel_requested(self, owner: str) -> list[tuple[int, str]]:
        """(id, reason) of running jobs of `owner` that some process asked to cancel."""
        ...

    async def get_job(self, job_id: int) -> JobResult | None: ...

    async def get_job_by_ref(self, ref_id: str) -> JobResult | None: ...

    async def request_cancel(self, job_id: int, reason: str, now: int) -> JobState:
        """Cancel a queued or executed job now, or ask the owner of a started one to stop."""
        ...

    async def requeue(self, job_id: int, now: int) -> list[int]:
        """Put a failed or cancelled job back in the queue (attempts reset), with the
        dependents its failure cancelled; returns the requeued ids, the job first. Its
        history keeps the attempt that ended it and records the requeue."""
        ...

    async def list_queue(self, query: JobQuery, cursor: int | None, limit: int) -> Page[Job]:
        """Jobs in the queue (queued, started, executed) matching `query`, oldest first,
        after id `cursor`. Relative `since:`/`before:` are measured from `query.now`."""
        ...

    async def list_archive(
        self, month: str, kind: JobState, query: JobQuery, cursor: int | None, limit: int
    ) -> Page[Job]:
        """Jobs that finished in `month` (`YYYY-MM`): completed ones (kind `completed`) or
        failed and cancelled ones (any other kind), matching `query`, newest first, before id
        `cursor`. When no index narrows the query, a page may hold fewer than `limit` jobs
        and still have a `next_cursor`: it covers the ids down to that cursor (bounded scan).
        An unknown month is an empty page.

        StoreError naming the month's storage if it cannot be read; other months still work.
        """
        ...

    async def find_jobs(self, query: JobQuery, cursor: int | None, limit: int) -> Page[Job]:
        """Jobs matching `query` wherever they are (the queue and every month), newest
        first, before id `cursor`; each job once. Pages may be short as in `list_archive`.
        Months that cannot hold a match (by state, by `since:`/`before:`) are not read; a
        month that must be read but cannot be is a StoreError naming its storage."""
        ...

    async def find_job_ids(self, query: JobQuery, cursor: int | None, limit: int) -> Page[int]:
        """The ids `find_jobs` would return, without reading the rows."""
        ...

    async def count_jobs(self, query: JobQuery) -> int:
        """How many jobs match `query` anywhere; exact, and may scan when no index helps."""
        ...

    async def cancel_jobs(self, job_ids: list[int], reason: str, now: int) -> BulkOutcome:
        """Cancel a batch in one transaction: queued and executed jobs now (with their
        waiting dependents), started ones by asking their engine; the rest are skipped."""
        ...

    async def requeue_jobs(self, job_ids: list[int], now: int) -> BulkOutcome:
        """Requeue the failed and cancelled jobs of a batch (attempts reset), with the
        dependents their failure cancelled (waiting for them again); others are skipped.
        Each job's state is checked in the transaction that requeues it."""
        ...

    async def delete_jobs(self, job_ids: list[int], now: int) -> BulkOutcome:
        """Delete the finished (completed, failed, cancelled) jobs of a batch for good: their
        full rows (in the queue or a month file) and their summaries. The all-time counts by
        state drop by them; throughput history stays; their ids are never given again.
        Unfinished jobs are skipped."""
        ...

    async def counts(self) -> dict[JobState, int]: ...

    async def months(self) -> list[MonthDatabase]:
        """The month archives, newest first; one that cannot be read or written carries the
        reason in `error` (never raises for one bad month)."""
        ...

    async def engines(self, now: int) -> list[EngineInfo]:
        """The most recently started engines (at most 200), newest first, each with its
        state as of `now` (`jobs_core.liveness.engine_state` decides it from the row)."""
        ...

    async def running_jobs(self) -> list[RunningJob]: ...

    async def throughput(self, since: int, now: int) -> list[ThroughputBucket]: ...

    async def batch_status(self, batch_id: str) -> BatchStatus: ...

    async def cancel_batch(self, batch_id: str, reason: str, now: int) -> list[int]:
        """Close the batch for good (recording it if it is new): every later `enqueue` into it
        raises BatchCancelledError, and its callbacks never run; the jobs depending on it end
        (policy `completed`: cancelled) or go on. Returns the ids of its unfinished jobs, read
        in the same transaction, for the caller to cancel; it cancels none itself."""
        ...

    async def declare_commands(self, definitions: list[CommandDefinition]) -> None:
        """Record the commands an engine runs, each with its `declared_by` and `declared_at`.

        The newest declaration of a name replaces older ones (by `declared_at`); a name no
        longer declared by any engine keeps its last declaration.
        """
        ...

    async def declared_commands(self) -> list[CommandDefinition]:
        """Every command some engine declared, by name, as last declared."""
        ...

    async def dependents(self, job_id: int) -> list[JobSummary]:
        """Summaries of the jobs that depend on `job_id` (as their only parent or one of
        several)."""
        ...

    async def set_queue(self, name: str, change: QueueChange, now: int) -> QueueSettings:
        """Change a queue's settings (recording it if new) and return them; every engine's
        next claim applies them."""
        ...

    async def queue_settings(self) -> list[QueueSettings]:
        """Every queue an operator set, by name."""
        ...

    async def queues(self, now: int) -> list[QueueInfo]:
        """Every queue that has jobs in the live store, was set by an operator, or finished
        jobs in the last 15 minutes, by name, with its figures as of `now`."""
        ...

    async def wait_facts(self, job_ids: list[int], now: int) -> list[WaitFacts]:
        """What might hold each of `job_ids` that is in the live store (others are left
        out), for `flow.explain`."""
        ...

    async def expire_due(self, now: int, limit: int) -> list[int]:
        """Cancel (code `Expired`) up to `limit` queued jobs whose `expires_at` is past, and
        their dependents as any cancellation does; returns the expired ids."""
        ...

    async def duration_tallies(self, since: int, now: int) -> list[DurationTally]:
        """Jobs that finished from `since` (epoch ms, rounded down to its minute) to `now`,
        tallied by command, state and duration bucket. Reads only the tallies the finishing
        transactions wrote (see `finish`), never the jobs themselves. Tallies older than
        `jobs_core.figures.FIGURES_KEPT_MS` (8 days) may be gone."""
        ...

    async def command_throughput(
        self, command: str, since: int, now: int
    ) -> list[ThroughputBucket]:
        """Jobs of `command` that finished per minute from `since` to `now`, by state."""
        ...

    async def children(self, job_id: int) -> list[JobSummary]:
        """Summaries of the jobs whose `parent_id` is `job_id` (callbacks, replies, jobs a
        handler started, dependents enqueued without a parent of their own), oldest first."""
        ...

    async def blocked_by(self, job_ids: list[int]) -> dict[int, int]:
        """Of `job_ids`, the queued jobs still waiting for the job they depend on to
        complete, each mapped to that job's id. Other ids are left out."""
        ...

    def reopen(self) -> Store:
        """Another handle on the same store with connections of its own (for use from
        another thread); the caller closes it."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class FileStore(Protocol):
    """A store kept in local files (SQLite), whose file modes guard the data at rest.

    Apart from `Store` so that a server backend (PostgreSQL) has nothing to implement.
    """

    def exposed_files(self) -> list[ExposedFile]:
        """The store's directory and database files that users other than their owner can
        access (the store creates them private: 0700 and 0600)."""
        ...
