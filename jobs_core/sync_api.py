"""`SyncJobs` (`jobs.sync`): the blocking API for threads without an event loop.

Django and Flask views, gunicorn workers and scripts call it from plain threads. Every call
runs the async facade on one event-loop thread that `SyncJobs` owns (started on first use,
stopped by `close()` or at exit), over a store of its own: the app's store may be in use
by an engine on another loop, and a connection must not be shared between two loops. So
the calls are thread-safe, need no engine, and raise the same errors with the same types.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Unpack, overload

from .enqueue_options import EnqueueOptions
from .errors import JobsError
from .flow_records import QueueInfo, QueueSettings, RateLimit, WaitInfo
from .handles import CommandHandle, JobHandle
from .job_refs import JobRefs
from .queue_api import UNSET, Unset
from .records import (
    BatchStatus,
    EngineInfo,
    Job,
    JobAttempt,
    JobRef,
    JobResult,
    JobState,
    JobSummary,
    MonthDatabase,
    Page,
    PurgeReport,
    RunningJob,
    ScheduledTaskInfo,
    ThroughputBucket,
)
from .schedule import DEFAULT_MAX_CATCH_UP

if TYPE_CHECKING:
    from .admin_api import QueryLike
    from .app import BackgroundJobs, EnqueueRequest
    from .schedule import MissedRunPolicy, Schedule
    from .store.protocol import Store

T = TypeVar("T")
Req = TypeVar("Req")
Resp = TypeVar("Resp")


class SyncJobs:
    """Blocking twins of the facade's enqueue, wait, query and admin calls."""

    def __init__(
        self, jobs: BackgroundJobs, *, store_factory: Callable[[], Store] | None = None
    ) -> None:
        self._jobs = jobs
        self._store_factory = store_factory
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._facade: BackgroundJobs | None = None
        self._pid = 0
        self._inherited: list[BackgroundJobs] = []

    # -- plumbing ---------------------------------------------------------------------------

    def _call(self, make: Callable[[BackgroundJobs], Coroutine[Any, Any, T]]) -> T:
        """Run `make(facade)` on the loop thread and wait for its result or error."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            raise JobsError(
                "jobs.sync was called from a thread running an event loop, where blocking "
                "would stall it: use the async API there (`await jobs.enqueue(...)`)"
            )
        loop, facade = self._started()
        return asyncio.run_coroutine_threadsafe(make(facade), loop).result()

    def _started(self) -> tuple[asyncio.AbstractEventLoop, BackgroundJobs]:
        loop, facade = self._loop, self._facade
        if loop is not None and facade is not None and self._pid == os.getpid():
            return loop, facade
        with self._lock:
            if self._pid != os.getpid() and self._facade is not None:
                # A forked child (gunicorn --preload) has no loop thread: start afresh. The
                # parent's connections are kept, never closed here: SQLite must not close
                # in a child what its parent opened.
                self._inherited.append(self._facade)
                self._loop = self._thread = self._facade = None
            if self._loop is None:
                self._start()
            assert self._loop is not None and self._facade is not None
            return self._loop, self._facade

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="jobs-sync-loop", daemon=True)
        thread.start()
        try:
            facade = asyncio.run_coroutine_threadsafe(self._open(), loop).result()
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            raise
        self._loop, self._thread, self._facade = loop, thread, facade
        self._pid = os.getpid()
        atexit.register(self.close)

    async def _open(self) -> BackgroundJobs:
        """A facade sharing the app's commands, settings and clock, on a store of its own."""
        store = self._store_factory() if self._store_factory else None
        return self._jobs.reopen(store)

    def close(self) -> None:
        """Close the store and stop the loop thread (again on first use after this)."""
        with self._lock:
            loop, thread, facade = self._loop, self._thread, self._facade
            self._loop = self._thread = self._facade = None
        if loop is None or thread is None or self._pid != os.getpid():
            return
        atexit.unregister(self.close)
        try:
            if facade is not None:
                asyncio.run_coroutine_threadsafe(facade.close(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    # -- enqueue and wait -------------------------------------------------------------------

    @overload
    def enqueue(
        self, command: CommandHandle[Req, Resp], request: Req,
        **options: Unpack[EnqueueOptions],
    ) -> JobHandle[Resp]: ...  # fmt: skip

    @overload
    def enqueue(
        self, command: str, request: Any = None, **options: Unpack[EnqueueOptions]
    ) -> JobRef: ...

    def enqueue(
        self, command: CommandHandle[Any, Any] | str, request: Any = None,
        **options: Unpack[EnqueueOptions],
    ) -> JobRef:  # fmt: skip
        """Store a job durably (see `BackgroundJobs.enqueue`); a handle gives a `JobHandle`."""
        if isinstance(command, CommandHandle):
            item = command.enqueue_request(request, **options)
            ref = self._call(lambda f: f.enqueue_many([item]))[0]
            return command.job_handle(ref)
        return self._call(lambda f: f.enqueue(command, request, **options))

    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[JobRef]:
        """Store many jobs in one transaction: all or none."""
        return self._call(lambda f: f.enqueue_many(requests))

    def enqueue_each(
        self, command: str, requests: Iterable[Any], **options: Unpack[EnqueueOptions]
    ) -> JobRefs:
        """One job of `command` per request, the same options for all, in one transaction
        (see `BackgroundJobs.enqueue_each`)."""
        return self._call(lambda f: f.enqueue_each(command, requests, **options))

    @overload
    def wait(self, job: JobHandle[Resp], *, timeout: float | None = None) -> Resp: ...

    @overload
    def wait(self, job: int | JobRef, *, timeout: float | None = None) -> Any: ...

    def wait(self, job: int | JobRef, *, timeout: float | None = None) -> Any:
        """Block until the job completes and return its result (see `BackgroundJobs.wait`)."""
        return self._call(lambda f: f.wait(job, timeout=timeout))

    def wait_finished(self, job_id: int, *, timeout: float | None = None) -> JobResult:
        return self._call(lambda f: f.wait_finished(job_id, timeout=timeout))

    # -- query and admin --------------------------------------------------------------------

    def get_job(self, job_id: int) -> JobResult:
        return self._call(lambda f: f.get_job(job_id))

    def get_job_by_ref(self, ref_id: str) -> JobResult:
        return self._call(lambda f: f.get_job_by_ref(ref_id))

    def cancel(self, job_id: int, reason: str = "cancelled by operator") -> JobState:
        return self._call(lambda f: f.cancel(job_id, reason))

    def requeue(self, job_id: int) -> list[int]:
        return self._call(lambda f: f.requeue(job_id))

    def list_queue(
        self, query: QueryLike = None, *, cursor: int | None = None, limit: int = 50
    ) -> Page[Job]:
        return self._call(lambda f: f.list_queue(query, cursor=cursor, limit=limit))

    def list_completed(
        self, month: str, query: QueryLike = None, *, cursor: int | None = None,
        limit: int = 50,
    ) -> Page[Job]:  # fmt: skip
        return self._call(lambda f: f.list_completed(month, query, cursor=cursor, limit=limit))

    def list_failed(
        self, month: str, query: QueryLike = None, *, cursor: int | None = None,
        limit: int = 50,
    ) -> Page[Job]:  # fmt: skip
        return self._call(lambda f: f.list_failed(month, query, cursor=cursor, limit=limit))

    def find_jobs(
        self, query: QueryLike = None, *, cursor: int | None = None, limit: int = 50
    ) -> Page[Job]:
        return self._call(lambda f: f.find_jobs(query, cursor=cursor, limit=limit))

    def count_jobs(self, query: QueryLike = None) -> int:
        return self._call(lambda f: f.count_jobs(query))

    def counts(self) -> dict[JobState, int]:
        return self._call(lambda f: f.counts())

    def months(self) -> list[MonthDatabase]:
        return self._call(lambda f: f.months())

    def engines(self) -> list[EngineInfo]:
        return self._call(lambda f: f.engines())

    def running_jobs(self) -> list[RunningJob]:
        return self._call(lambda f: f.running_jobs())

    def throughput(self, minutes: int = 15) -> list[ThroughputBucket]:
        return self._call(lambda f: f.throughput(minutes))

    def batch_status(self, batch_id: str) -> BatchStatus:
        return self._call(lambda f: f.batch_status(batch_id))

    def cancel_batch(self, batch_id: str, reason: str = "batch cancelled") -> list[int]:
        return self._call(lambda f: f.cancel_batch(batch_id, reason))

    def dependents(self, job_id: int) -> list[JobSummary]:
        return self._call(lambda f: f.dependents(job_id))

    # -- history ----------------------------------------------------------------------------

    def attempts(self, job_id: int) -> list[JobAttempt]:
        return self._call(lambda f: f.attempts(job_id))

    def create_batch(
        self, name: str | None = None, *, on_complete: str | None = None,
        on_success: str | None = None, meta: Mapping[str, str] | None = None,
        total: int | None = None, batch_id: str | None = None,
    ) -> str:  # fmt: skip
        """Record a batch (see `BackgroundJobs.create_batch`); returns its id, for
        `batch_id=` and `close_batch`."""
        batch = self._call(
            lambda f: f.create_batch(
                name, on_complete=on_complete, on_success=on_success, meta=meta, total=total,
                batch_id=batch_id,
            )
        )  # fmt: skip
        return batch.id

    def close_batch(self, batch_id: str) -> None:
        self._call(lambda f: f.close_batch(batch_id))

    def purge(
        self, older_than: timedelta | datetime, *,
        state: JobState | str | Sequence[JobState | str] | None = None, dry_run: bool = False,
    ) -> PurgeReport:  # fmt: skip
        return self._call(lambda f: f.purge(older_than, state=state, dry_run=dry_run))

    def search(
        self, text: str, *, since: datetime | None = None, until: datetime | None = None,
        cursor: int | None = None, limit: int = 50,
    ) -> Page[Job]:  # fmt: skip
        return self._call(
            lambda f: f.search(text, since=since, until=until, cursor=cursor, limit=limit)
        )

    # -- flow control -----------------------------------------------------------------------

    def set_queue(
        self, name: str, *, concurrency: int | Literal[Unset.UNSET] | None = UNSET,
        rate_limit: RateLimit | Literal[Unset.UNSET] | None = UNSET, paused: bool | None = None,
    ) -> QueueSettings:  # fmt: skip
        """Change a queue's settings store-wide (see `BackgroundJobs.set_queue`)."""
        return self._call(
            lambda f: f.set_queue(
                name, concurrency=concurrency, rate_limit=rate_limit, paused=paused
            )
        )

    def pause_queue(self, name: str) -> QueueSettings:
        return self._call(lambda f: f.pause_queue(name))

    def resume_queue(self, name: str) -> QueueSettings:
        return self._call(lambda f: f.resume_queue(name))

    def queues(self) -> list[QueueInfo]:
        return self._call(lambda f: f.queues())

    def queue_settings(self) -> list[QueueSettings]:
        return self._call(lambda f: f.queue_settings())

    def why_waiting(self, job_id: int) -> WaitInfo:
        return self._call(lambda f: f.why_waiting(job_id))

    # -- scheduled tasks --------------------------------------------------------------------

    def recurring(
        self, name: str, schedule: Schedule | str, command: str, request: Any = None, *,
        missed: MissedRunPolicy | str = "run_once", max_catch_up: int = DEFAULT_MAX_CATCH_UP,
        worker: str | None = None, retry_limit: int | None = None,
        timeout: float | None = None, tag: str | None = None, callback: str | None = None,
        user_id: str | None = None, reply_to: str | None = None,
        args: Mapping[str, str] | None = None,
    ) -> ScheduledTaskInfo:  # fmt: skip
        """Register or update a scheduled task (see `BackgroundJobs.recurring`)."""
        return self._call(
            lambda f: f.recurring(
                name, schedule, command, request, missed=missed, max_catch_up=max_catch_up,
                worker=worker, retry_limit=retry_limit, timeout=timeout, tag=tag,
                callback=callback, user_id=user_id, reply_to=reply_to, args=args,
            )
        )  # fmt: skip

    def scheduled_tasks(self) -> list[ScheduledTaskInfo]:
        return self._call(lambda f: f.scheduled_tasks())

    def scheduled_task(self, name: str) -> ScheduledTaskInfo:
        return self._call(lambda f: f.scheduled_task(name))

    def run_task_now(self, name: str) -> None:
        self._call(lambda f: f.run_task_now(name))

    def pause_task(self, name: str) -> None:
        self._call(lambda f: f.pause_task(name))

    def resume_task(self, name: str) -> None:
        self._call(lambda f: f.resume_task(name))

    def remove_task(self, name: str) -> None:
        self._call(lambda f: f.remove_task(name))
