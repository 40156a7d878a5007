"""Transient jobs: run by a worker of this process without being stored (`run_command`)."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from .context import JobContext
from .records import Job, JobState


class TransientJob:
    """A live handle on a transient job; `await` it for the handler's result.

    A handler's exception reaches the awaiting caller as JobFailedError (the exception is its
    `__cause__`), a timeout as JobTimeoutError, a cancelled handle as CancelledError.
    """

    def __init__(self, job: Job, ctx: JobContext, future: asyncio.Future[Any]) -> None:
        self.job = job
        """The job as the handler sees it (never stored; its id is negative)."""
        self._ctx = ctx
        self._future = future
        self._started = False

    @property
    def state(self) -> JobState:
        if not self._future.done():
            return JobState.STARTED if self._started else JobState.QUEUED
        if self._future.cancelled():
            return JobState.CANCELLED
        return JobState.FAILED if self._future.exception() else JobState.COMPLETED

    @property
    def progress(self) -> float | None:
        return self._ctx.activity.progress

    @property
    def status(self) -> str | None:
        return self._ctx.activity.status

    @property
    def logs(self) -> str:
        return "".join(self._ctx.activity.logs)

    def done(self) -> bool:
        return self._future.done()

    def cancel(self) -> None:
        """Ask the handler to stop (async handlers are cancelled, sync ones see the event)."""
        self._ctx.request_cancel()
        self._future.cancel()

    async def result(self) -> Any:
        """The handler's return value; JobFailedError or JobTimeoutError if it failed."""
        return await asyncio.shield(self._future)

    def __await__(self) -> Generator[Any, None, Any]:
        return self.result().__await__()

    def _mark_started(self) -> None:
        self._started = True
