"""Waiting for a stored job to finish: `jobs.wait(job_id)`, from any process.

A waiter re-reads the job only when something may have changed: the store's change token
moved (another connection committed: `PRAGMA data_version` on SQLite, a LISTEN/NOTIFY
counter on PostgreSQL), this process's engine finished a batch, or this facade itself
wrote (its own commits do not move its own connection's token). One `ChangeWatch` per
facade watches the token for all its waiters at once; a read at least every second is the
safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

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
"""First pause between change-token checks on a store without push (SQLite); doubles up to
`MAX_POLL_SECS` while nothing changes, as the engine's own polling does."""
MAX_POLL_SECS = 0.02
SAFETY_READ_SECS = 1.0
"""Longest time between two reads of the job whatever the signals say."""


class _Owner(Protocol):
    store: Store


class ChangeWatch:
    """Wakes every waiter of one facade when the store may have changed. The token is
    watched by one task, only while someone waits; on PostgreSQL it sleeps until the
    listener hears a notification (no polling)."""

    def __init__(self, owner: _Owner) -> None:
        self._owner = owner
        self._event: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiting = 0
        self.fired = 0
        """How many times `fire` ran: a waiter notes it before it reads, so that a change
        made while it read (its own facade's cancel, say) is not lost."""

    @property
    def waiting(self) -> int:
        """How many waiters sleep on this watch now."""
        return self._waiting

    def fire(self) -> None:
        """Wake every waiter now (this process wrote, or its engine finished jobs)."""
        self.fired += 1
        event, self._event = self._event, None
        if event is not None:
            event.set()

    async def wait(self, timeout: float, *, since: int | None = None) -> None:
        """Return once the store may have changed, or after `timeout` seconds; at once if
        `fire` ran since `fired` was `since`."""
        if since is not None and since != self.fired:
            return
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        self._ensure_watching()
        self._waiting += 1
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(timeout, 0.0)):
                    await event.wait()
        finally:
            self._waiting -= 1

    def _ensure_watching(self) -> None:
        loop = asyncio.get_running_loop()
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._watch(), name="jobs-change-watch")

    async def _watch(self) -> None:
        store = self._owner.store
        try:
            token = store.change_token()
            pause = FIRST_POLL_SECS
            while self._waiting:
                pushed = getattr(store, "wait_change", None)
                if pushed is not None:
                    await pushed(token, SAFETY_READ_SECS)
                else:
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, MAX_POLL_SECS)
                current = store.change_token()
                if current != token or self._owner.store is not store:
                    token, pause = current, FIRST_POLL_SECS
                    self.fire()
                    if self._owner.store is not store:
                        return
        except Exception:  # a closed or failing store: waiters read it and see the error
            self.fire()


class WaitMixin:
    """`wait`: the result of a stored job once it completes, from any process."""

    store: Store
    clock: Clock
    _engine: Engine | None
    _watch: ChangeWatch

    if TYPE_CHECKING:

        async def get_job(self, job_id: int) -> JobResult: ...  # provided by AdminMixin

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
        watch = self._change_watch()
        while True:
            seen = watch.fired
            found = await self.get_job(job_id)
            if found.state in TERMINAL_STATES:
                return found
            left = SAFETY_READ_SECS if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeoutError(f"job {job_id} did not finish within {timeout:g}s")
            await watch.wait(min(left, SAFETY_READ_SECS), since=seen)

    def _change_watch(self) -> ChangeWatch:
        watch: ChangeWatch | None = getattr(self, "_watch", None)
        if watch is None:
            watch = self._watch = ChangeWatch(self)
        engine = self._engine
        if engine is not None and engine.on_finished is not watch:
            engine.on_finished = watch
        return watch

    def _changed_here(self) -> None:
        """This facade wrote to the store: its waiters look again at once."""
        watch: ChangeWatch | None = getattr(self, "_watch", None)
        if watch is not None:
            watch.fire()


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
