"""Waiting for a stored job to finish: `jobs.wait(job_id)`, from any process.

A waiter re-reads the job only when something may have changed: the store's change token
moved (another connection committed), or this process's engine finished a batch (its own
commits do not move the token of its own connection). A slow safety-net read covers what
neither signal shows, such as a cancel issued by this very process on a queued job.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .errors import JobCancelledError, JobFailedError, WaitTimeoutError
from .records import TERMINAL_STATES, JobRef, JobResult, JobState
from .serialization import from_json

if TYPE_CHECKING:
    from .clock import Clock
    from .engine.engine import Engine
    from .handles import JobHandle
    from .store.protocol import Store

R = TypeVar("R")

FIRST_POLL_SECS = 0.001
"""First pause between change-token checks; doubles up to `MAX_POLL_SECS`."""
MAX_POLL_SECS = 0.02
SAFETY_READ_SECS = 0.25
"""Longest time between two reads of the job whatever the signals say."""


class FinishSignal:
    """Set by the local engine after each batch of outcomes it writes; waiters re-read then."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """True if the engine wrote outcomes within `timeout` seconds."""
        event = self._event
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            return False
        return True


class WaitMixin:
    """`wait`: the result of a stored job once it completes, from any process."""

    store: Store
    clock: Clock
    _engine: Engine | None

    if TYPE_CHECKING:

        async def get_job(self, job_id: int) -> JobResult:  # provided by AdminMixin
            raise NotImplementedError

    @overload
    async def wait(self, job: JobHandle[R], *, timeout: float | None = None) -> R: ...

    @overload
    async def wait(self, job: int | JobRef, *, timeout: float | None = None) -> Any: ...

    async def wait(self, job: int | JobRef, *, timeout: float | None = None) -> Any:
        """The job's result once it completes (rebuilt as the handler's return type when
        `job` is a `JobHandle`, else the JSON value).

        Raises JobFailedError (its `job` attribute holds the failed row) or
        JobCancelledError when it ends otherwise, WaitTimeoutError after `timeout` seconds,
        JobNotFoundError if there is no such job.
        """
        job_id = job if isinstance(job, int) else job.id
        finished = await self.wait_finished(job_id, timeout=timeout)
        return outcome_of(finished, getattr(job, "result_type", Any))

    async def wait_finished(self, job_id: int, *, timeout: float | None = None) -> JobResult:
        """The job once it is completed, failed or cancelled (it does not raise for those)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        signal = self._finish_signal()
        while True:
            found = await self.get_job(job_id)
            if found.state in TERMINAL_STATES:
                return found
            await self._until_change(signal, deadline, job_id, timeout)

    async def _until_change(
        self, signal: FinishSignal | None, deadline: float | None, job_id: int, timeout: Any
    ) -> None:
        token = self.store.change_token()
        pause = FIRST_POLL_SECS
        read_by = time.monotonic() + SAFETY_READ_SECS
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise WaitTimeoutError(f"job {job_id} did not finish within {timeout:g}s")
            step = min(pause, read_by - now, (deadline - now) if deadline else pause)
            if signal is not None:
                if await signal.wait(max(step, 0.0)):
                    return
            else:
                await asyncio.sleep(max(step, 0.0))
            if self.store.change_token() != token or time.monotonic() >= read_by:
                return
            pause = min(pause * 2, MAX_POLL_SECS)

    def _finish_signal(self) -> FinishSignal | None:
        engine = self._engine
        if engine is None:
            return None
        if engine.on_finished is None:
            engine.on_finished = FinishSignal()
        return engine.on_finished


def outcome_of(found: JobResult, result_type: Any = Any) -> Any:
    """The result of a finished job, or the error its end calls for."""
    job = found.job
    summary = found.summary
    name = f"job {summary.id} ({summary.command})"
    if found.state is JobState.COMPLETED:
        body = job.response_body if job is not None else None
        return None if body is None else from_json(body, result_type)
    if found.state is JobState.CANCELLED:
        reason = summary.error_message or "cancelled"
        raise JobCancelledError(f"{name} was cancelled: {reason}")
    code = summary.error_code or "Error"
    message = summary.error_message or "no error recorded"
    raise JobFailedError(
        f"{name} failed: {code}: {message}",
        command=summary.command, code=code, error_message=message, job=found,
    )  # fmt: skip
