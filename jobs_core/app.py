"""`BackgroundJobs`: the facade apps use to register commands, enqueue, query and administer."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Unpack

from .admin_api import AdminMixin
from .bulk_api import BulkMixin
from .clock import Clock, SystemClock
from .columns import build_columns, plain_columns, routed_columns
from .context import JobContext
from .engine.engine import Engine
from .enqueue_options import EnqueueOptions
from .enqueuing import ROUTING_OPTIONS, JobBuilder
from .errors import InvalidOptionError, JobsError, PermanentError, ReadOnlyStoreError
from .handles import CommandDecorator
from .history_api import HistoryMixin
from .job_refs import JobRefs, new_refs
from .options import EnqueueRequest
from .queue_api import QueueMixin
from .records import CommandDefinition, Job, JobRef, JobState
from .registry import CommandRegistry
from .rules import REPLY_COMMAND
from .scheduling import SchedulingMixin
from .settings import Settings
from .store.opening import open_store
from .store.protocol import EnqueuedIds, JobColumns, NewJob, Store
from .transient import TransientJob
from .waiting import WaitMixin

if TYPE_CHECKING:
    from .sync_api import SyncJobs
    from .telemetry import Telemetry

__all__ = ["BackgroundJobs", "EnqueueRequest", "UserResolver"]

UserResolver = Callable[[str], Any]


class BackgroundJobs(AdminMixin, BulkMixin, HistoryMixin, QueueMixin, SchedulingMixin, WaitMixin):
    """Durable background jobs in a directory (default `./jobs_data`), on PostgreSQL when
    given a `postgresql://` URL instead, or on a given store.

    `async with jobs:` runs the engine; leaving drains running jobs (bounded). Enqueueing and
    the admin API work without an engine too (e.g. from the admin app or a web process).
    """

    def __init__(
        self,
        directory: str = "jobs_data",
        *,
        settings: Settings | None = None,
        clock: Clock | None = None,
        store: Store | None = None,
        create: bool = True,
        start_engine: bool = True,
        read_only: bool = False,
    ) -> None:
        self.settings = settings or Settings()
        self.clock: Clock = clock or SystemClock()
        self.store: Store = store or open_store(
            directory, self.settings, create=create, read_only=read_only
        )
        self.read_only: bool = read_only or bool(getattr(self.store, "read_only", False))
        """Opened read-only: lookups work, every change raises `ReadOnlyStoreError`."""
        self.registry = CommandRegistry()
        self._builder = JobBuilder(self)
        self._start_engine = start_engine
        self._engine: Engine | None = None
        self._user_resolver: UserResolver | None = None
        self.telemetry: Telemetry | None = _telemetry()
        """OpenTelemetry spans and metrics; None when `opentelemetry-api` is not installed."""
        self._register_builtins()

    # -- registration -----------------------------------------------------------------------

    @property
    def command(self) -> CommandDecorator:
        """Register a handler and get its typed handle: `@jobs.command`, or
        `@jobs.command("name", worker="smtp", retry_limit=3, timeout=60)`.

        A `worker` makes its jobs run one at a time, in order, across every engine; an
        enqueue may not send them to another worker.
        """
        return CommandDecorator(self)

    @functools.cached_property
    def sync(self) -> SyncJobs:
        """The blocking API for threads without an event loop (Django, Flask, scripts)."""
        from .sync_api import SyncJobs

        return SyncJobs(self)

    def user_resolver(self, resolver: UserResolver) -> UserResolver:
        """Register the function (sync or async) that turns a job's user_id into a user."""
        self._user_resolver = resolver
        return resolver

    def _register_builtins(self) -> None:
        from .reply_to import send_reply

        async def deliver_reply(ctx: JobContext) -> None:
            assert ctx.job.reply_to is not None
            served = ctx.job.meta.get("reply_for") or str(ctx.job.parent_id)
            # The reply goes out once the job succeeded: it completes when delivered.
            headers = {"X-Job-Id": served, "X-Job-State": JobState.COMPLETED.value}
            status = await send_reply(ctx.job.reply_to, ctx.job.request_body, headers=headers)
            ctx.log.info("delivered result: HTTP %s", status)

        self.registry.add(deliver_reply, name=REPLY_COMMAND)

    # -- engine -----------------------------------------------------------------------------

    async def __aenter__(self) -> BackgroundJobs:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start this process's engine (unless built with `start_engine=False`)."""
        if self.read_only and self._start_engine:
            raise ReadOnlyStoreError(f"{self.location} is open read-only: no engine can run")
        engine = Engine(
            self.store, self.registry, self.settings, self.clock, facade=self,
            prepare=self._prepare,
        )  # fmt: skip
        engine.telemetry = self.telemetry
        self._engine = engine
        ticker = self._scheduler_ticker()
        if ticker is not None:
            engine.tickers.append(ticker)
        if self._start_engine:
            await engine.start()

    async def stop(self) -> None:
        """Drain and stop the engine, then close the store."""
        if self._engine is not None and self._start_engine:
            await self._engine.stop()
        self._engine = None
        await self.store.close()

    async def open(self) -> None:
        """Connect to the store and check it now, rather than on first use (PostgreSQL
        connects lazily): a wrong URL, password or schema version fails here."""
        await self.store.open()

    async def close(self) -> None:
        """Close the store (admin tools, enqueue-only processes). If this process's engine
        runs (`start()` without `stop()`), it is drained and stopped first, as `stop()`
        does: closed under it, the store would refuse the outcomes of its running jobs."""
        await self.stop()

    def reopen(self, store: Store | None = None) -> BackgroundJobs:
        """Another facade with this one's commands, settings, clock, user resolver and
        telemetry, on a store with connections of its own (`store`, else `Store.reopen()`)
        and no engine: for work on another thread or event loop (`jobs.sync`, the admin
        app's bulk actions). Close it when done."""
        facade = BackgroundJobs(
            store=store or self.store.reopen(), settings=self.settings, clock=self.clock,
            start_engine=False,
        )  # fmt: skip
        facade.registry = self.registry
        facade._user_resolver = self._user_resolver
        facade.telemetry = self.telemetry
        return facade

    @property
    def location(self) -> str:
        """Where the store is: its directory, or its URL with the password masked."""
        return self.store.location

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise JobsError("the engine is not running: use `async with jobs:`")
        return self._engine

    async def run_until_idle(self, timeout: float = 30.0) -> None:
        """Run jobs until nothing due is left (tests and scripts; no waiting on the clock).

        Raises StillBusyError, naming the jobs still running, once `timeout` seconds pass
        (wall time, whatever the clock); those jobs keep running.
        """
        await self.engine.run_until_idle(timeout)

    def _prepare(self, ctx: JobContext) -> Awaitable[None] | None:
        """The engine's hook before a handler runs: what to await to give `ctx` its parents,
        batch and user; None for a job that has none (most: no coroutine made and awaited
        a job)."""
        job = ctx.job
        if job.depends_on is None and job.depends_on_batch is None and job.user_id is None:
            return None
        return self._prepared(ctx)

    async def _prepared(self, ctx: JobContext) -> None:
        job = ctx.job
        if job.depends_on is not None:
            parent = await self.store.get_job(job.depends_on)
            ctx.parent = parent.job if parent else None
            ctx.parents = [parent] if parent else []
            for other in job.dependencies[1:]:
                found = await self.store.get_job(other)
                if found is not None:
                    ctx.parents.append(found)
        if job.depends_on_batch is not None:
            ctx.parent_batch = await self.store.batch_status(job.depends_on_batch)
        if job.user_id is not None:
            ctx.user = await self._resolve_user(job.user_id)

    async def _resolve_user(self, user_id: str) -> Any:
        if self._user_resolver is None:
            # The enqueuing process (a web tier) may rightly lack one; the engine may not.
            raise PermanentError(
                f"the job runs as user '{user_id}' but this engine has no user resolver: "
                "register one with @jobs.user_resolver",
                code="NoUserResolver",
            )
        try:
            user = self._user_resolver(user_id)
            if inspect.isawaitable(user):
                user = await user
        except Exception as error:
            raise PermanentError(
                f"resolving user '{user_id}' failed: {error!r}", code="UserResolverFailed"
            ) from error
        if user is None:
            raise PermanentError(
                f"the user resolver found no user '{user_id}'", code="UserNotFound"
            )
        return user

    # -- enqueue ----------------------------------------------------------------------------

    async def enqueue(
        self, command: str, request: Any = None, **options: Unpack[EnqueueOptions]
    ) -> JobRef:
        """Store a job durably; returns once it is committed. Bad input is refused here.

        Options: see `EnqueueOptions`. A command's typed handle (`@jobs.command`) has the
        same `enqueue` with the request type checked.
        """
        if not options:  # most calls: no option to resolve, no `EnqueueRequest` to make
            now = self.clock.now_ms()
            job = self._builder.known_plain_job(command, request, now)
            if job is not None:  # else the general path reports or looks the command up
                ids = await self._store_jobs([job], now)
                return JobRef(id=ids[0])  # nothing looked up: a new job
        elif options.keys() <= ROUTING_OPTIONS:  # a queue, priority or key alone: likewise
            now = self.clock.now_ms()
            job = self._builder.known_routed_job(
                command, request, now, options.get("queue"), options.get("priority"),
                options.get("concurrency_key"),
            )  # fmt: skip
            if job is not None:
                ids = await self._store_jobs([job], now)
                return JobRef(id=ids[0])
        request_ = EnqueueRequest(command=command, request=request, **options)
        return (await self.enqueue_many([request_]))[0]

    async def enqueue_many(
        self, requests: Sequence[EnqueueRequest], *, allow_undeclared: bool = False
    ) -> list[JobRef]:
        """Store many jobs in one transaction: all or none.

        A command registered only in other processes is enqueued with the worker, retry limit,
        timeout and request checks its engines declared in the store. `allow_undeclared`
        enqueues a command no engine ever declared with the default options (the CLI's
        non-strict mode) instead of raising UnknownCommandError.
        """
        now = self.clock.now_ms()
        columns = plain_columns(self._builder, requests, now)
        if columns is None:  # a queue, priority or key set, and no other option?
            columns = routed_columns(self._builder, requests, now)
        if columns is not None:  # one command, those options: no `NewJob` or row tuple a job
            return new_refs(await self._store_columns(columns, now))
        new_jobs = await self._builder.build(requests, now, allow_undeclared=allow_undeclared)
        ids = await self._store_jobs(new_jobs, now)
        if not ids.reused:
            if not any(j.ref_id for j in new_jobs):
                return new_refs(ids)
            return [JobRef(id=i, ref_id=j.ref_id) for i, j in zip(ids, new_jobs, strict=True)]
        return [
            JobRef(id=i, ref_id=j.ref_id, existing=n in ids.reused)
            for n, (i, j) in enumerate(zip(ids, new_jobs, strict=True))
        ]

    async def enqueue_each(
        self, command: str, requests: Iterable[Any], **options: Unpack[EnqueueOptions]
    ) -> JobRefs:
        """Store one job of `command` per request, every job with the same `options`, in one
        transaction: all or none, durable when it returns.

        The jobs, ids, refusals and `existing` flags are those of `enqueue_many` with an
        `EnqueueRequest(command=command, request=r, **options)` per request; the options
        are checked once, no record is made per job, and the result (`JobRefs`, a sequence
        of `JobRef`) keeps only the ids: ~2.7 µs of CPU a job on SQLite against ~5 for
        `enqueue_many` of `EnqueueRequest`s made by the caller. A command's typed handle
        does the same with `handle.enqueue_many(requests, ...)`.
        """
        if isinstance(requests, str | bytes | Mapping):
            # Iterable, but surely one request: a job per character or key is never meant.
            raise InvalidOptionError(
                f"requests must be an iterable of requests, one a job; got a "
                f"{type(requests).__name__} (wrap one request in a list)"
            )
        batch = requests if isinstance(requests, Sequence) else list(requests)
        now = self.clock.now_ms()
        columns = await build_columns(self._builder, command, batch, options, now)
        if columns is None:  # the record path builds these (or names what is wrong)
            made = [EnqueueRequest(command=command, request=r, **options) for r in batch]
            return JobRefs.of(await self.enqueue_many(made))
        ids = await self._store_columns(columns, now)
        return JobRefs(ids, ref_id=columns.job.ref_id, existing=ids.reused)

    async def _store_columns(self, columns: JobColumns, now: int) -> EnqueuedIds:
        """`_store_jobs` of jobs given as columns."""
        telemetry = self.telemetry
        if telemetry is not None and telemetry.live():
            ids = await telemetry.enqueue_columns(self.store, columns, now)
        else:
            ids = await self.store.enqueue_columns(columns, now)
        job = columns.job
        self._woken(bool(job.worker), [job.run_after], now)
        return ids

    async def _store_jobs(self, new_jobs: list[NewJob], now: int) -> EnqueuedIds:
        """Store jobs built at `now` in one transaction, and wake this process's engine."""
        telemetry = self.telemetry
        if telemetry is not None and telemetry.live():
            ids = await telemetry.enqueue(self.store, new_jobs, now)
        else:
            ids = await self.store.enqueue(new_jobs, now)
        if self._engine is not None:
            self._woken(any(j.worker for j in new_jobs), [j.run_after for j in new_jobs], now)
        return ids

    def _woken(self, named: bool, run_after: Iterable[int], now: int) -> None:
        """Wake this process's engine for jobs stored at `now`, due at `run_after`."""
        engine = self._engine
        if engine is None:
            return
        engine.wake(named=named)
        for due in run_after:
            if due > now:
                engine.note_due(due)

    async def declared_command(self, name: str) -> CommandDefinition | None:
        """The command `name` as the engines that run it declared it in the store, or None if
        no engine ever did."""
        return await self._builder.declared(name)

    async def declared_commands(self) -> list[CommandDefinition]:
        """Every command some engine declared in the store, by name."""
        return await self._builder.refresh()

    def run_command(
        self,
        command: str,
        request: Any = None,
        *,
        worker: str | None = None,
        user_id: str | None = None,
        args: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> TransientJob:
        """Run a command now without storing it; `await` the handle for its result.

        On a named worker it runs after (and before) that worker's other jobs in this
        process, one at a time. It stops at `timeout` (else the command's, else
        `Settings.default_timeout_secs`) and the awaiting caller gets JobTimeoutError; a
        handler's exception reaches it as JobFailedError, the exception as its `__cause__`.
        Needs the engine running (`async with jobs:`) and the command registered here.
        """
        engine = self.engine
        now = self.clock.now_ms()
        new = self._builder.new_job(
            EnqueueRequest(command=command, request=request, worker=worker, user_id=user_id,
                           args=args, timeout=timeout),
            now, spec=self.registry.get(command),
        )  # fmt: skip
        job = Job(
            id=0, command=new.command, request_type=new.request_type,
            request_body=new.request_body, state=JobState.STARTED, worker=new.worker,
            user_id=new.user_id, args=new.args, created_date=now,
            run_after=new.run_after, retry_limit=0, attempts=1, timeout_secs=new.timeout_secs,
        )  # fmt: skip
        return engine.run_transient(job)


def _telemetry() -> Telemetry | None:
    """Telemetry on the global OpenTelemetry providers, or None without `opentelemetry-api`."""
    try:
        from .telemetry import Telemetry
    except ImportError:
        return None
    return Telemetry()
