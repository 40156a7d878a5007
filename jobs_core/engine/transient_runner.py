"""Running transient jobs (`run_command`): no store, the same handlers, locks and timeouts."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from jobs_core.context import JobContext
from jobs_core.errors import JobFailedError, JobTimeoutError
from jobs_core.records import Job
from jobs_core.transient import TransientJob

from .runner import call_handler, error_of

if TYPE_CHECKING:
    from .engine import Engine

WAITING_FOR_THREAD_SECS = 0.05
"""How often a sync handler that waits for a free thread is checked for having started."""


def run_transient(engine: Engine, job: Job) -> TransientJob:
    """Start `job` in a task and return its handle; serial with its named worker's jobs."""
    ctx = JobContext(job, jobs=engine.facade, now_ms=engine.clock.now_ms, on_activity=_ignore)
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    handle = TransientJob(job, ctx, future)

    async def run() -> None:
        lock = engine.worker_lock(job.worker)
        acquired = False
        try:
            if lock is not None:
                await lock.acquire()
                acquired = True
            handle._mark_started()
            await _run_with_timeout(engine, ctx, future)
        except Exception as error:  # never leave the caller waiting on a future never set
            _settle(future, error=_failed(job, error))
        finally:
            if lock is not None and acquired:
                lock.release()

    task = asyncio.create_task(run(), name=f"transient-{job.command}")
    future.add_done_callback(lambda f: task.cancel() if f.cancelled() else None)
    return handle


async def _run_with_timeout(engine: Engine, ctx: JobContext, future: asyncio.Future[Any]) -> None:
    """Run the handler, settling `future` with its result, its failure or a timeout.

    On timeout the caller hears at once; the worker lock is held until the handler really
    ends (a sync handler that ignores its cancel event keeps it), as for stored jobs.
    """
    command = engine.registry.get(ctx.job.command)
    # The timeout starts now (the worker's lock is ours), or when a thread takes the job.
    ctx.running_since = time.monotonic() if command.is_async else None
    call = asyncio.create_task(_call(engine, ctx), name=f"transient-call-{ctx.job.command}")
    try:
        if not await _finished_in_time(call, ctx, ctx.job.timeout_secs):
            ctx.request_cancel()
            call.cancel()
            _settle(future, error=_timed_out(ctx.job))
        await asyncio.wait([call])
    except asyncio.CancelledError:  # the caller cancelled the handle
        ctx.request_cancel()
        call.cancel()
        await asyncio.wait([call])
        raise
    if call.cancelled():
        return
    error = call.exception()
    if error is None:
        _settle(future, result=call.result())
    else:
        _settle(future, error=_failed(ctx.job, error))


async def _call(engine: Engine, ctx: JobContext) -> Any:
    preparing = engine.prepare(ctx) if engine.prepare is not None else None
    if preparing is not None:
        await preparing
    return await call_handler(engine.registry.get(ctx.job.command), ctx, engine.executor)


async def _finished_in_time(call: asyncio.Task[Any], ctx: JobContext, timeout: float) -> bool:
    """Wait for `call`; False once it has run `timeout` seconds since it started."""
    while True:
        since = ctx.running_since
        remaining = WAITING_FOR_THREAD_SECS if since is None else since + timeout - time.monotonic()
        if remaining <= 0:
            return False
        done, _ = await asyncio.wait([call], timeout=remaining)
        if done:
            return True


def _settle(future: asyncio.Future[Any], *, result: Any = None, error: Any = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _failed(job: Job, error: BaseException) -> JobFailedError:
    recorded = error_of(error)
    failed = JobFailedError(
        f"command '{job.command}' failed: {recorded.code}: {recorded.message}",
        command=job.command,
        code=recorded.code,
        error_message=recorded.message,
    )
    failed.__cause__ = error
    return failed


def _timed_out(job: Job) -> JobTimeoutError:
    return JobTimeoutError(
        f"command '{job.command}' timed out after {job.timeout_secs:g}s",
        command=job.command,
        timeout=job.timeout_secs,
    )


def _ignore() -> None:
    """Transient jobs keep their activity in memory; nothing is flushed."""
