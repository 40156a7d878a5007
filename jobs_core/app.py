"""`BackgroundJobs`: the facade apps use to register commands, enqueue, query and administer."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

from .admin_api import AdminMixin
from .clock import Clock, SystemClock, to_ms
from .context import JobContext
from .engine.engine import Engine
from .engine.runner import FatalJobError
from .errors import InvalidOptionError, JobsError
from .records import (
    Job,
    JobRef,
    JobState,
)
from .registry import CommandRegistry, Handler
from .rules import REPLY_COMMAND
from .scheduling import SchedulingMixin
from .serialization import to_json, type_name
from .settings import Settings
from .store.opening import open_store
from .store.protocol import NewJob, Store
from .transient import TransientJob

F = TypeVar("F", bound=Handler)
UserResolver = Callable[[str], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class EnqueueRequest:
    """One job for `enqueue_many`: the same options as `enqueue`."""

    command: str
    request: Any = None
    worker: str | None = None
    run_after: datetime | timedelta | None = None
    retry_limit: int | None = None
    timeout: float | None = None
    ref_id: str | None = None
    tag: str | None = None
    created_by: str | None = None
    batch_id: str | None = None
    args: Mapping[str, str] | None = None
    parent_id: int | None = None
    depends_on: int | None = None
    callback: str | None = None
    user_id: str | None = None
    reply_to: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)


class BackgroundJobs(AdminMixin, SchedulingMixin):
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
    ) -> None:
        self.settings = settings or Settings()
        self.clock: Clock = clock or SystemClock()
        self.store: Store = store or open_store(directory, self.settings, create=create)
        self.registry = CommandRegistry()
        self._start_engine = start_engine
        self._engine: Engine | None = None
        self._user_resolver: UserResolver | None = None
        self._register_builtins()

    # -- registration -----------------------------------------------------------------------

    def command(
        self,
        name: str | Handler | None = None,
        *,
        worker: str | None = None,
        retry_limit: int | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Register a handler: `@jobs.command`, `@jobs.command("name", worker="smtp")`."""
        if callable(name):
            self.registry.add(name)
            return name

        def register(handler: F) -> F:
            self.registry.add(
                handler, name=name, worker=worker, retry_limit=retry_limit, timeout=timeout
            )
            return handler

        return register

    def user_resolver(self, resolver: UserResolver) -> UserResolver:
        """Register the function (sync or async) that turns a job's user_id into a user."""
        self._user_resolver = resolver
        return resolver

    def _register_builtins(self) -> None:
        from .reply_to import send_reply

        async def deliver_reply(ctx: JobContext) -> None:
            assert ctx.job.reply_to is not None
            status = await send_reply(ctx.job.reply_to, ctx.job.request_body)
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
        engine = Engine(
            self.store, self.registry, self.settings, self.clock, facade=self,
            prepare=self._prepare,
        )  # fmt: skip
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
        """Close the store without running an engine (admin tools, enqueue-only processes)."""
        await self.store.close()

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
        """Run jobs until nothing due is left (tests and scripts; no waiting on the clock)."""
        await self.engine.run_until_idle(timeout)

    async def _prepare(self, ctx: JobContext) -> None:
        job = ctx.job
        if job.depends_on is not None:
            parent = await self.store.get_job(job.depends_on)
            ctx.parent = parent.job if parent else None
        if job.user_id is not None and self._user_resolver is not None:
            ctx.user = await self._resolve_user(job.user_id)

    async def _resolve_user(self, user_id: str) -> Any:
        assert self._user_resolver is not None
        try:
            user = self._user_resolver(user_id)
            if inspect.isawaitable(user):
                user = await user
        except Exception as error:
            raise FatalJobError(
                "UserResolverFailed", f"resolving user '{user_id}' failed: {error!r}"
            ) from error
        if user is None:
            raise FatalJobError("UserNotFound", f"the user resolver found no user '{user_id}'")
        return user

    # -- enqueue ----------------------------------------------------------------------------

    async def enqueue(
        self,
        command: str,
        request: Any = None,
        *,
        worker: str | None = None,
        run_after: datetime | timedelta | None = None,
        retry_limit: int | None = None,
        timeout: float | None = None,
        ref_id: str | None = None,
        tag: str | None = None,
        created_by: str | None = None,
        batch_id: str | None = None,
        args: Mapping[str, str] | None = None,
        parent_id: int | None = None,
        depends_on: int | None = None,
        callback: str | None = None,
        user_id: str | None = None,
        reply_to: str | None = None,
    ) -> JobRef:
        """Store a job durably; returns once it is committed. Bad input is refused here."""
        options = EnqueueRequest(
            command=command, request=request, worker=worker, run_after=run_after,
            retry_limit=retry_limit, timeout=timeout, ref_id=ref_id, tag=tag,
            created_by=created_by, batch_id=batch_id, args=args, parent_id=parent_id,
            depends_on=depends_on, callback=callback, user_id=user_id, reply_to=reply_to,
        )  # fmt: skip
        return (await self.enqueue_many([options]))[0]

    async def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[JobRef]:
        """Store many jobs in one transaction: all or none."""
        now = self.clock.now_ms()
        new_jobs = [self._new_job(r, now) for r in requests]
        ids = await self.store.enqueue(new_jobs, now)
        if self._engine is not None:
            named = any(j.worker for j in new_jobs)
            self._engine.wake(named=named)
            for job in new_jobs:
                if job.run_after > now:
                    self._engine.note_due(job.run_after)
        return [JobRef(id=i, ref_id=j.ref_id) for i, j in zip(ids, new_jobs, strict=True)]

    def _new_job(self, r: EnqueueRequest, now: int) -> NewJob:
        command = self.registry.get(r.command)
        body = to_json(r.request, what=f"the request of command '{r.command}'")
        if r.retry_limit is not None or r.timeout is not None or r.callback or r.args or r.reply_to:
            _check_options(r, self.registry)
        settings = self.settings
        retry_limit = r.retry_limit if r.retry_limit is not None else command.retry_limit
        timeout = r.timeout if r.timeout is not None else command.timeout_secs
        return NewJob(
            command=r.command,
            request_type=type_name(r.request),
            request_body=body,
            worker=r.worker if r.worker is not None else command.worker,
            run_after=now if r.run_after is None else _run_after_ms(r.run_after, now),
            retry_limit=retry_limit if retry_limit is not None else settings.default_retry_limit,
            timeout_secs=timeout if timeout is not None else settings.default_timeout_secs,
            parent_id=r.parent_id, depends_on=r.depends_on, ref_id=r.ref_id, tag=r.tag,
            callback=r.callback, batch_id=r.batch_id, created_by=r.created_by,
            user_id=r.user_id, reply_to=r.reply_to, args=dict(r.args or {}), meta=dict(r.meta),
        )  # fmt: skip

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
        process, one at a time. Needs the engine running (`async with jobs:`).
        """
        engine = self.engine
        new = self._new_job(
            EnqueueRequest(command=command, request=request, worker=worker, user_id=user_id,
                           args=args, timeout=timeout),
            self.clock.now_ms(),
        )  # fmt: skip
        job = Job(
            id=0, command=new.command, request_type=new.request_type,
            request_body=new.request_body, state=JobState.STARTED, worker=new.worker,
            user_id=new.user_id, args=new.args, created_date=self.clock.now_ms(),
            run_after=new.run_after, retry_limit=0, attempts=1, timeout_secs=new.timeout_secs,
        )  # fmt: skip
        return engine.run_transient(job)


def _run_after_ms(run_after: datetime | timedelta | None, now: int) -> int:
    if run_after is None:
        return now
    if isinstance(run_after, timedelta):
        return now + round(run_after.total_seconds() * 1000)
    return to_ms(run_after)


def _check_options(r: EnqueueRequest, registry: CommandRegistry) -> None:
    if r.retry_limit is not None and r.retry_limit < 0:
        raise InvalidOptionError(f"retry_limit must be >= 0, got {r.retry_limit}")
    if r.timeout is not None and r.timeout <= 0:
        raise InvalidOptionError(f"timeout must be > 0 seconds, got {r.timeout}")
    if r.callback is not None and r.callback not in registry:
        registry.get(r.callback)
    if r.args is not None and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in r.args.items()
    ):
        raise InvalidOptionError("args must map strings to strings")
    if r.reply_to is not None:
        from .reply_to import validate_reply_to

        validate_reply_to(r.reply_to)
