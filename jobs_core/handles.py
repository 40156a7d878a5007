"""Typed command handles: what `@jobs.command` returns, and the typed `JobHandle` of a job.

A handle stays callable exactly like the handler it wraps (unit tests of handlers keep
working) and adds `enqueue`, `enqueue_many`, `enqueue_request` and `run`, typed from the
handler's signature so a type checker rejects a wrong request and infers the result.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, Unpack, overload

from .context import JobContext
from .enqueue_options import EnqueueOptions, RunOptions
from .job_refs import JobHandles
from .options import check_command_options
from .records import JobRef, JobResult, JobState
from .registry import Command, FlowOptions, KeyFunction
from .retry_policy import RetryPolicy

if TYPE_CHECKING:
    from .app import BackgroundJobs, EnqueueRequest

Req = TypeVar("Req")
Resp = TypeVar("Resp")
P = ParamSpec("P")

_AsyncFn = Coroutine[Any, Any, Resp]


@dataclass(frozen=True, slots=True, kw_only=True)
class JobHandle(JobRef, Generic[Resp]):
    """A stored job enqueued through a handle: a `JobRef` whose `wait()` is typed."""

    command: str = ""
    """The job's command."""
    jobs: BackgroundJobs | None = field(default=None, repr=False, compare=False)
    result_type: Any = field(default=Any, repr=False, compare=False)
    """The handler's declared return type, used to rebuild the result."""

    async def wait(self, timeout: float | None = None) -> Resp:
        """The job's result once it completes; JobFailedError, JobCancelledError or
        WaitTimeoutError otherwise."""
        result: Resp = await self._facade().wait(self, timeout=timeout)
        return result

    async def get(self) -> JobResult:
        """The job as `jobs.get_job` finds it now."""
        return await self._facade().get_job(self.id)

    async def cancel(self) -> JobState:
        """Cancel the job (see `jobs.cancel`)."""
        return await self._facade().cancel(self.id)

    def _facade(self) -> BackgroundJobs:
        if self.jobs is None:
            from .errors import JobsError

            raise JobsError(f"job {self.id} has no facade to wait on")
        return self.jobs


class CommandHandle(Generic[Req, Resp]):
    """A registered command: enqueue it, run it now, or call its handler directly."""

    def __init__(self, jobs: BackgroundJobs, command: Command) -> None:
        self.jobs = jobs
        self.command = command
        self.result_type = _result_type(command.handler)
        self.__wrapped__ = command.handler
        self.__name__ = getattr(command.handler, "__name__", command.name)
        self.__doc__ = getattr(command.handler, "__doc__", None)

    @property
    def name(self) -> str:
        """The command's name, for enqueue by name from other processes and the CLI."""
        return self.command.name

    def __repr__(self) -> str:
        return f"<CommandHandle {self.name!r}>"

    @overload
    async def enqueue(
        self: CommandHandle[None, Resp], request: None = None, **options: Unpack[EnqueueOptions]
    ) -> JobHandle[Resp]: ...

    @overload
    async def enqueue(self, request: Req, **options: Unpack[EnqueueOptions]) -> JobHandle[Resp]: ...

    async def enqueue(
        self, request: Any = None, **options: Unpack[EnqueueOptions]
    ) -> JobHandle[Resp]:
        """Store a job of this command durably (the options of `jobs.enqueue`)."""
        refs = await self.jobs.enqueue_many([self.enqueue_request(request, **options)])
        return self.job_handle(refs[0])

    async def enqueue_many(
        self, requests: Iterable[Req], **options: Unpack[EnqueueOptions]
    ) -> JobHandles[Resp]:
        """Store one job per request, with the same options, in one transaction (all or
        none): `jobs.enqueue_each`, no record made per job. The result is a sequence of
        `JobHandle`s, each made when read."""
        return JobHandles(await self.jobs.enqueue_each(self.name, requests, **options), self)

    def enqueue_request(self, request: Req, **options: Unpack[EnqueueOptions]) -> EnqueueRequest:
        """A typed item for `jobs.enqueue_many`, to mix commands in one transaction."""
        from .app import EnqueueRequest

        return EnqueueRequest(command=self.name, request=request, **options)

    @overload
    async def run(
        self: CommandHandle[None, Resp], request: None = None, **options: Unpack[RunOptions]
    ) -> Resp: ...

    @overload
    async def run(self, request: Req, **options: Unpack[RunOptions]) -> Resp: ...

    async def run(self, request: Any = None, **options: Unpack[RunOptions]) -> Resp:
        """Run the command now without storing it (`jobs.run_command`); its result."""
        result: Resp = await self.jobs.run_command(self.name, request, **options)
        return result

    def job_handle(self, ref: JobRef) -> JobHandle[Resp]:
        """The typed handle of a job of this command found by id (e.g. from `JobRef`)."""
        return JobHandle(
            id=ref.id, ref_id=ref.ref_id, existing=ref.existing, command=self.name,
            jobs=self.jobs, result_type=self.result_type,
        )  # fmt: skip


class AsyncCommandHandle(CommandHandle[Req, Resp], Generic[Req, Resp, P]):
    """The handle of an `async def` handler; calling it calls the handler."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, Resp]:
        result: Coroutine[Any, Any, Resp] = self.command.handler(*args, **kwargs)
        return result


class SyncCommandHandle(CommandHandle[Req, Resp], Generic[Req, Resp, P]):
    """The handle of a plain `def` handler; calling it calls the handler."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Resp:
        result: Resp = self.command.handler(*args, **kwargs)
        return result


class CommandDecorator:
    """`@jobs.command` and `@jobs.command("name", worker=..., retry_limit=..., timeout=...,
    queue=..., priority=..., concurrency_key=..., ...)`."""

    def __init__(
        self,
        jobs: BackgroundJobs,
        name: str | None = None,
        worker: str | None = None,
        retry_limit: int | None = None,
        timeout: float | None = None,
        flow: FlowOptions | None = None,
    ) -> None:
        self._jobs = jobs
        self._name = name
        self._worker = worker
        self._retry_limit = retry_limit
        self._timeout = timeout
        self._flow = flow

    # The order matters: async shapes before sync ones (an async def is also a callable
    # returning a value), and the context-only shapes before the request shapes.
    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, fn: Callable[[JobContext], _AsyncFn[Resp]], /
    ) -> AsyncCommandHandle[None, Resp, [JobContext]]: ...
    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, fn: Callable[[], _AsyncFn[Resp]], /
    ) -> AsyncCommandHandle[None, Resp, []]: ...
    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, fn: Callable[[Req, JobContext], _AsyncFn[Resp]], /
    ) -> AsyncCommandHandle[Req, Resp, [Req, JobContext]]: ...
    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, fn: Callable[[Req], _AsyncFn[Resp]], /
    ) -> AsyncCommandHandle[Req, Resp, [Req]]: ...
    @overload
    def __call__(
        self, fn: Callable[[JobContext], Resp], /
    ) -> SyncCommandHandle[None, Resp, [JobContext]]: ...
    @overload
    def __call__(self, fn: Callable[[], Resp], /) -> SyncCommandHandle[None, Resp, []]: ...
    @overload
    def __call__(
        self, fn: Callable[[Req, JobContext], Resp], /
    ) -> SyncCommandHandle[Req, Resp, [Req, JobContext]]: ...
    @overload
    def __call__(self, fn: Callable[[Req], Resp], /) -> SyncCommandHandle[Req, Resp, [Req]]: ...
    @overload
    def __call__(
        self,
        name: str | None = None,
        *,
        worker: str | None = None,
        retry_limit: int | None = None,
        timeout: float | None = None,
        queue: str | None = None,
        priority: int | None = None,
        concurrency_key: str | KeyFunction | None = None,
        concurrency_limit: int | None = None,
        unique_while_active: bool = False,
        retry: RetryPolicy | None = None,
        expires_in: timedelta | None = None,
    ) -> CommandDecorator: ...

    def __call__(
        self,
        name: Callable[..., Any] | str | None = None,
        *,
        worker: str | None = None,
        retry_limit: int | None = None,
        timeout: float | None = None,
        queue: str | None = None,
        priority: int | None = None,
        concurrency_key: str | KeyFunction | None = None,
        concurrency_limit: int | None = None,
        unique_while_active: bool = False,
        retry: RetryPolicy | None = None,
        expires_in: timedelta | None = None,
    ) -> Any:
        if name is None or isinstance(name, str):
            check_command_options(worker, retry_limit, timeout)
            flow = FlowOptions(
                queue=queue, priority=priority, concurrency_key=concurrency_key,
                concurrency_limit=concurrency_limit, unique_while_active=unique_while_active,
                retry=retry, expires_in=expires_in,
            )  # fmt: skip
            return CommandDecorator(self._jobs, name, worker, retry_limit, timeout, flow)
        fn = name
        command = self._jobs.registry.add(
            fn, name=self._name, worker=self._worker, retry_limit=self._retry_limit,
            timeout=self._timeout, flow=self._flow,
        )  # fmt: skip
        if command.is_async:
            return AsyncCommandHandle[Any, Any, Any](self._jobs, command)
        return SyncCommandHandle[Any, Any, Any](self._jobs, command)


def _result_type(handler: Callable[..., Any]) -> Any:
    """The handler's declared return type (`Any` when it declares none or it cannot be read)."""
    try:
        return typing.get_type_hints(handler).get("return", Any)
    except Exception:
        return Any
