"""The store seam: domain operations the engine and the admin API need from a backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from jobs_core.records import (
    BatchStatus,
    EngineInfo,
    Job,
    JobError,
    JobFilter,
    JobResult,
    JobState,
    JobSummary,
    MonthDatabase,
    Page,
    RunningJob,
    ThroughputBucket,
)


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

    async def open(self) -> None:
        """Connect, and create or check the store now (every other call does it on demand).

        Raises StoreNotFoundError, SchemaTooNewError, StoreUnavailableError, ... naming the
        store, so a process can refuse a bad location before doing anything else.
        """
        ...

    async def enqueue(self, jobs: list[NewJob], now: int) -> list[int]:
        """Insert `jobs` in one transaction and return their ids in order.

        Raises DuplicateRefIdError naming the ref_id if one is taken (nothing is inserted),
        JobNotFoundError if a `depends_on` job does not exist. A job depending on a failed or
        cancelled job is inserted already cancelled.
        """
        ...

    async def claim(
        self, *, owner: str, commands: list[str], named: bool, limit: int, now: int
    ) -> list[Job]:
        """Atomically mark up to `limit` eligible queued jobs started and owned by `owner`.

        Eligible: queued, due (`run_after <= now`), not waiting on a parent, command in
        `commands`. `named=False` claims default-worker jobs oldest first; `named=True` claims
        the first eligible job of each named worker that has no started job.
        """
        ...

    async def finish(
        self, transitions: list[Transition], new_jobs: list[NewJob], now: int
    ) -> FinishResult:
        """Apply transitions and insert jobs (callbacks, replies) in one transaction.

        A completed job releases its waiting dependents; a failed or cancelled job cancels
        its waiting dependents transitively, each with the reason.
        """
        ...

    async def record_activity(self, updates: list[ActivityUpdate], now: int) -> None:
        """Append logs and set progress/status of running jobs, in one transaction."""
        ...

    async def archive_finished(self, now: int, limit: int) -> int:
        """Move up to `limit` finished jobs to the month database of their completion date."""
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
        """Requeue (attempt counted), fail or cancel jobs whose owning engine is gone."""
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
        dependents its failure cancelled; returns the requeued ids, the job first."""
        ...

    async def list_queue(self, flt: JobFilter, cursor: int | None, limit: int) -> Page[Job]:
        """Jobs in the queue, oldest first, after id `cursor`."""
        ...

    async def list_archive(
        self, month: str, kind: JobState, flt: JobFilter, cursor: int | None, limit: int
    ) -> Page[Job]:
        """Archived jobs of a month, newest first, before id `cursor`."""
        ...

    async def counts(self) -> dict[JobState, int]: ...

    async def months(self) -> list[MonthDatabase]: ...

    async def engines(self, now: int) -> list[EngineInfo]: ...

    async def running_jobs(self) -> list[RunningJob]: ...

    async def throughput(self, since: int, now: int) -> list[ThroughputBucket]: ...

    async def batch_status(self, batch_id: str) -> BatchStatus: ...

    async def batch_active_ids(self, batch_id: str) -> list[int]:
        """Ids of the unfinished jobs of a batch."""
        ...

    async def dependents(self, job_id: int) -> list[JobSummary]:
        """Summaries of the jobs that depend on `job_id`."""
        ...

    async def close(self) -> None: ...
