"""Running one attempt of a job: the handler call with timeout, cancellation and context."""

from __future__ import annotations

import asyncio
import contextvars
import time
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, Protocol

from jobs_core.context import JobContext, current_context
from jobs_core.errors import JobCancelledError, PermanentError, UnserialisableResultError
from jobs_core.records import JobError
from jobs_core.registry import Command
from jobs_core.retry_policy import should_retry
from jobs_core.rules import Attempt, Outcome
from jobs_core.serialization import from_json, storable_text, to_json, type_name

CANCEL_SHUTDOWN = "shutdown"
CANCEL_TIMEOUT = "timeout"
"""Cancel reasons the engine gives; any other reason is an operator's cancel."""


class Cancellable(Protocol):
    """What a running attempt is cancelled for (the engine's entry of the running job)."""

    cancel_reason: str | None


async def run_attempt(
    command: Command,
    ctx: JobContext,
    *,
    executor: Executor,
    prepare: Callable[[JobContext], Awaitable[None] | None] | None,
    running: Cancellable,
) -> Attempt:
    """Run the handler once and describe how it ended; never raises for handler errors."""
    started = time.perf_counter()
    outcome, result, error = Outcome.SUCCESS, None, None
    try:
        preparing = prepare(ctx) if prepare is not None else None
        if preparing is not None:
            await preparing
        # The handler awaited here, not in `call_handler`'s coroutine: a frame less a job.
        token = current_context.set(ctx)
        try:
            result = await handler_call(command, ctx, executor)
        finally:
            current_context.reset(token)
    except asyncio.CancelledError:
        reason = running.cancel_reason or "cancelled"
        if reason == CANCEL_TIMEOUT:
            outcome = Outcome.TIMEOUT
            error = JobError(
                code="Timeout", message=f"attempt timed out after {ctx.job.timeout_secs:g}s"
            )
        elif reason == CANCEL_SHUTDOWN:
            outcome = Outcome.INTERRUPTED
            error = JobError(code="Interrupted", message="the engine shut down during the attempt")
        else:
            outcome, error = Outcome.CANCELLED, JobError(code="Cancelled", message=reason)
    except JobCancelledError as cancelled:
        outcome = Outcome.CANCELLED
        error = JobError(code="Cancelled", message=running.cancel_reason or str(cancelled))
    except PermanentError as permanent:
        outcome, error = Outcome.FATAL, error_of(permanent)
    except Exception as exc:
        # A retry policy's `retry_on` / `no_retry_on` decide here, where the exception is.
        retryable = should_retry(ctx.job.retry_policy or command.retry, exc)
        outcome, error = (Outcome.ERROR if retryable else Outcome.FATAL), error_of(exc)
    return _attempt(command, ctx, outcome, result, error, started)


async def call_handler(command: Command, ctx: JobContext, executor: Executor) -> Any:
    """Call the handler for `ctx.job` and return its raw result.

    A request that does not fit the handler's type raises InvalidRequestError (permanent).
    """
    token = current_context.set(ctx)
    try:
        return await handler_call(command, ctx, executor)
    finally:
        current_context.reset(token)


def handler_call(command: Command, ctx: JobContext, executor: Executor) -> Awaitable[Any]:
    """What to await for the handler's raw result, with `current_context` set to `ctx` by
    the caller: the handler's coroutine, or a plain function's run in a thread.

    A request that does not fit the handler's type raises InvalidRequestError (permanent).
    """
    request = None
    if command.takes_request:
        what = f"the request of job {ctx.job.id} (command '{command.name}')"
        request = from_json(ctx.job.request_body, command.request_type, what=what)
    args = _args(command, request, ctx)
    if command.is_async:
        # Timeouts and cancels arrive as task cancellation from the engine's watchdog.
        return command.handler(*args)  # type: ignore[no-any-return]
    return _run_sync(command, args, ctx, executor)


def _attempt(
    command: Command,
    ctx: JobContext,
    outcome: Outcome,
    result: Any,
    error: JobError | None,
    started: float,
) -> Attempt:
    response_type = response_body = None
    if outcome is Outcome.SUCCESS and result is not None:
        try:
            what = (
                f"the result of command '{command.name}' (job {ctx.job.id}), "
                f"a {type(result).__qualname__},"
            )
            response_body = to_json(result, what=what, error=UnserialisableResultError)
            response_type = type_name(result)
        except Exception as exc:  # whatever the encoder raised, the job must still end
            if not isinstance(exc, UnserialisableResultError):
                exc = UnserialisableResultError(f"{what} cannot be stored as JSON: {exc!r}")
            outcome, error = Outcome.FATAL, error_of(exc)
    activity = ctx.take_activity()
    duration_ms = round((time.perf_counter() - started) * 1000)
    plain = outcome is Outcome.SUCCESS and response_body is None and activity is None
    if plain and duration_ms < len(_PLAIN_SUCCESS):
        return _PLAIN_SUCCESS[duration_ms]
    return Attempt(
        outcome=outcome,
        duration_ms=duration_ms,
        response_type=response_type,
        response_body=response_body,
        error=error,
        logs="".join(activity.logs) if activity else "",
        progress=activity.progress if activity else None,
        status=activity.status if activity else None,
    )


_PLAIN_SUCCESS = tuple(Attempt(outcome=Outcome.SUCCESS, duration_ms=ms) for ms in range(1000))
"""The attempt of a handler that returned None within `ms` milliseconds and reported no
activity, most attempts: records are frozen, so one of each is shared (an `Attempt` made is
~1 µs a job, measured)."""


def _args(command: Command, request: Any, ctx: JobContext) -> tuple[Any, ...]:
    if command.takes_request and command.takes_context:
        return (request, ctx)
    if command.takes_request:
        return (request,)
    if command.takes_context:
        return (ctx,)
    return ()


async def _run_sync(
    command: Command,
    args: tuple[Any, ...],
    ctx: JobContext,
    executor: Executor,
) -> Any:
    """Run a plain function in a thread; on timeout or cancel, wait for the thread to end.

    Waiting keeps the promise that an attempt never overlaps the next one: a handler that
    ignores its cancel event holds its job until it returns.
    """
    context = contextvars.copy_context()
    context.run(current_context.set, ctx)
    loop = asyncio.get_running_loop()

    def in_thread() -> Any:
        # The timeout starts when a thread takes the job, not while it waits for one.
        ctx.running_since = time.monotonic()
        return command.handler(*args)

    future = loop.run_in_executor(executor, context.run, in_thread)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        ctx.request_cancel()
        await _settle(future)
        raise


async def _settle(future: asyncio.Future[Any]) -> None:
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            continue
        except Exception:
            return


def error_of(exc: BaseException) -> JobError:
    """The job error recording `exc`: its code (a PermanentError's `code`, else the class
    name), message, traceback and field errors."""
    field_errors = getattr(exc, "field_errors", None)
    return JobError(
        code=exc.code if isinstance(exc, PermanentError) else type(exc).__name__,
        message=storable_text(str(exc) or type(exc).__name__),
        stack=storable_text("".join(traceback.format_exception(exc))),
        field_errors=dict(field_errors) if isinstance(field_errors, dict) else {},
    )
