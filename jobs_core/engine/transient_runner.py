"""Running transient jobs (`run_command`): no store, the same handlers and worker locks."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from jobs_core.context import JobContext
from jobs_core.records import Job
from jobs_core.transient import TransientJob

from .runner import call_handler

if TYPE_CHECKING:
    from .engine import Engine


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
            if engine.prepare is not None:
                await engine.prepare(ctx)
            result = await call_handler(engine.registry.get(job.command), ctx, engine.executor)
        except BaseException as error:  # handed to whoever awaits the handle
            if not future.done():
                future.set_exception(error)
            if isinstance(error, asyncio.CancelledError):
                raise
        else:
            if not future.done():
                future.set_result(result)
        finally:
            if lock is not None and acquired:
                lock.release()

    task = asyncio.create_task(run(), name=f"transient-{job.command}")
    future.add_done_callback(lambda f: task.cancel() if f.cancelled() else None)
    return handle


def _ignore() -> None:
    """Transient jobs keep their activity in memory; nothing is flushed."""
