"""Running one attempt of a job: the handler call with timeout, cancellation and context."""

from __future__ import annotations

import asyncio
import contextvars
import time
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

from jobs_core.context import JobContext, current_context
from jobs_core.errors import JobCancelledError
from jobs_core.records import JobError
from jobs_core.registry import Command
from jobs_core.rules import Attempt, Outcome
from jobs_core.serialization import from_json, to_json, type_name

CANCEL_SHUTDOWN = "shutdown"
CANCEL_TIMEOUT = "timeout"
"""Cancel reasons the engine gives; any other reason is an operator's cancel."""


class FatalJobError(Exception):
    """An error a retry cannot fix; the job fails without further attempts."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def run_attempt(
    command: Command,
    ctx: JobContext,
    *,
    executor: Executor,
    prepare: Callable[[JobContext], Awaitable[None]] | None,
    cancel_reason: Callable[[], str | None],
) -> Attempt:
    """Run the handler once and describe how it ended; never raises for handler errors."""
    started = time.perf_counter()
    outcome, result, error = Outcome.SUCCESS, None, None
    try:
        if prepare is not None:
            await prepare(ctx)
        request = (
            from_json(ctx.job.request_body, command.request_type) if command.takes_request else None
        )
        args = _args(command, request, ctx)
        if command.is_async:
            result = await _run_async(command, args, ctx)
        else:
            result = await _run_sync(command, args, ctx, executor)
    except asyncio.CancelledError:
        reason = cancel_reason() or "cancelled"
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
        error = JobError(code="Cancelled", message=cancel_reason() or str(cancelled))
    except FatalJobError as fatal:
        outcome, error = Outcome.FATAL, JobError(code=fatal.code, message=str(fatal))
    except Exception as exc:
        outcome, error = Outcome.ERROR, _error_of(exc)
    return _attempt(ctx, outcome, result, error, started)


async def call_handler(command: Command, ctx: JobContext, executor: Executor) -> Any:
    """Call the handler for `ctx.job` and return its raw result (transient jobs)."""
    request = (
        from_json(ctx.job.request_body, command.request_type) if command.takes_request else None
    )
    args = _args(command, request, ctx)
    if command.is_async:
        return await _run_async(command, args, ctx)
    return await _run_sync(command, args, ctx, executor)


def _attempt(
    ctx: JobContext, outcome: Outcome, result: Any, error: JobError | None, started: float
) -> Attempt:
    response_type = response_body = None
    if outcome is Outcome.SUCCESS and result is not None:
        try:
            response_body = to_json(result, what=f"the result of job {ctx.job.id}")
            response_type = type_name(result)
        except Exception as exc:
            outcome, error = Outcome.FATAL, _error_of(exc)
    activity = ctx.take_activity()
    return Attempt(
        outcome=outcome,
        duration_ms=round((time.perf_counter() - started) * 1000),
        response_type=response_type,
        response_body=response_body,
        error=error,
        logs="".join(activity.logs) if activity else "",
        progress=activity.progress if activity else None,
        status=activity.status if activity else None,
    )


def _args(command: Command, request: Any, ctx: JobContext) -> tuple[Any, ...]:
    if command.takes_request and command.takes_context:
        return (request, ctx)
    if command.takes_request:
        return (request,)
    if command.takes_context:
        return (ctx,)
    return ()


async def _run_async(command: Command, args: tuple[Any, ...], ctx: JobContext) -> Any:
    # Timeouts and cancels arrive as task cancellation from the engine's watchdog.
    token = current_context.set(ctx)
    try:
        return await command.handler(*args)
    finally:
        current_context.reset(token)


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


def _error_of(exc: BaseException) -> JobError:
    field_errors = getattr(exc, "field_errors", None)
    return JobError(
        code=type(exc).__name__,
        message=str(exc) or type(exc).__name__,
        stack="".join(traceback.format_exception(exc)),
        field_errors=dict(field_errors) if isinstance(field_errors, dict) else {},
    )
