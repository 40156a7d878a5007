"""`GroupCommitter`: concurrent enqueues share one transaction, each keeping its own outcome.

A store's `enqueue` submits its jobs here. A caller that finds no write under way leads: if
nothing else is ready to run in this pass of the event loop it writes at once (a lone caller
waits for no timer and no loop pass); otherwise it yields one pass so that the callers
ready in the same pass join it. Callers that arrive while a group is being gathered or
written wait, and the next transaction takes all of them.

The store writes a group in one transaction and returns one outcome per caller: its ids,
or the error refusing its jobs (the store checks each caller's jobs apart, e.g. under a
savepoint, so one caller's `DuplicateRefIdError` does not fail the others). An error of
the transaction itself (disk full, lock never released) is every caller's outcome.

Cancelling a caller: before its group is taken, its jobs are withdrawn and never stored;
once taken, they are stored if that transaction commits (the caller cannot learn the ids;
a `ref_id` finds the job). Never twice: an entry is written by exactly one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from .protocol import EnqueuedIds, JobColumns, NewJob

Outcome = EnqueuedIds | BaseException
"""One caller's result: the ids of its jobs in order (and which of them were already
there), or the error refusing them."""


@dataclass(slots=True, eq=False)
class Pending:
    """One caller's jobs, waiting for the transaction that stores them."""

    jobs: list[NewJob]
    """Its jobs as records; empty when they come as `columns`."""
    now: int
    """The caller's time: its jobs' created date."""
    taken: bool = False
    """Whether a transaction took it (it can no longer be withdrawn)."""
    outcome: Outcome | None = None
    waiter: asyncio.Future[None] | None = field(default=None, repr=False)
    columns: JobColumns | None = None
    """Its jobs as columns (`Store.enqueue_columns`), or None."""

    def as_records(self) -> Pending:
        """This caller's jobs as records: itself, or a copy with its columns made `NewJob`s
        (for a group write that takes records; its outcome is still this entry's)."""
        if self.columns is None:
            return self
        return Pending(self.columns.new_jobs(), self.now)


WriteNow = Callable[[Sequence[Pending]], list[Outcome] | None]
"""Write a group in one transaction without waiting for a lock held elsewhere; None if the
lock is held (nothing written)."""

Write = Callable[[Sequence[Pending]], Awaitable[list[Outcome]]]
"""Write a group in one transaction, waiting for the lock as long as the store allows."""


class GroupCommitter:
    """Group commit for one store on one event loop (see the module docstring)."""

    def __init__(self, write: Write, write_now: WriteNow | None = None) -> None:
        self._write = write
        self._write_now = write_now
        self._pending: list[Pending] = []
        self._leading = False
        """A caller is gathering or writing a group, or a flush task is running."""
        self._flush_task: asyncio.Task[None] | None = None

    async def submit(
        self, jobs: list[NewJob], now: int, columns: JobColumns | None = None
    ) -> EnqueuedIds:
        """Store `jobs`, or the jobs of `columns` (one caller's, all or none); returns their
        ids once committed."""
        entry = Pending(jobs, now, columns=columns)
        if self._leading:
            self._pending.append(entry)
            return await self._wait(entry)
        self._leading = True
        if _others_ready():
            group = await self._gather(entry)
        else:
            entry.taken = True
            group = [entry]
        try:
            outcomes = self._try_now(group)
        except BaseException:  # KeyboardInterrupt and kin: the outcome is unknown
            _abandon(group)
            self._step_down()
            raise
        if outcomes is None:
            self._flush_task = asyncio.get_running_loop().create_task(self._flush(group))
            return await self._wait(entry)
        _settle(group, outcomes)
        self._step_down()
        return _result(entry)

    async def _gather(self, entry: Pending) -> list[Pending]:
        """Let the callers ready in this pass of the loop join `entry`; the group."""
        self._pending.append(entry)
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self._pending.remove(entry)
            self._step_down()
            raise
        return self._take()

    def _take(self) -> list[Pending]:
        """The pending callers, now part of a transaction; callers cancelled while waiting
        (their task has not yet run to withdraw) are left out."""
        group = [e for e in self._pending if e.waiter is None or not e.waiter.cancelled()]
        self._pending = []
        for entry in group:
            entry.taken = True
        return group

    def _try_now(self, group: list[Pending]) -> list[Outcome] | None:
        if self._write_now is None:
            return None
        try:
            return self._write_now(group)
        except Exception as error:
            return [error] * len(group)

    def _step_down(self) -> None:
        """End this lead: hand callers that arrived meanwhile to a flush task, or stop."""
        if self._pending:
            group = self._take()
            self._flush_task = asyncio.get_running_loop().create_task(self._flush(group))
        else:
            self._leading = False

    async def _flush(self, group: list[Pending]) -> None:
        """Write `group`, then every group that gathered meanwhile, until none is left."""
        try:
            while group:
                try:
                    outcomes = await self._write(group)
                except Exception as error:
                    outcomes = [error] * len(group)
                _settle(group, outcomes)
                group = self._take()
        except BaseException:
            _abandon([*group, *self._take()])
            raise
        finally:
            self._leading = False
            self._flush_task = None

    async def _wait(self, entry: Pending) -> EnqueuedIds:
        if entry.outcome is None:
            entry.waiter = asyncio.get_running_loop().create_future()
            try:
                await entry.waiter
            except asyncio.CancelledError:
                if not entry.taken and entry in self._pending:
                    self._pending.remove(entry)
                raise
        return _result(entry)


def _settle(group: Sequence[Pending], outcomes: list[Outcome]) -> None:
    assert len(outcomes) == len(group), "a group write returns one outcome per caller"
    for entry, outcome in zip(group, outcomes, strict=True):
        entry.outcome = outcome
        waiter = entry.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _abandon(group: Sequence[Pending]) -> None:
    """Wake the callers of a group whose write was interrupted: they see CancelledError."""
    for entry in group:
        if entry.waiter is not None:
            entry.waiter.cancel()


def _result(entry: Pending) -> EnqueuedIds:
    outcome = entry.outcome
    if isinstance(outcome, BaseException):
        raise outcome
    assert outcome is not None
    return outcome


def _others_ready() -> bool:
    """Whether other callbacks wait to run in this pass of the loop, so another enqueue may
    arrive before the next pass. asyncio's own loops keep them in `_ready`; for a loop
    without it (uvloop) assume so: the first caller then waits one pass."""
    ready = getattr(asyncio.get_running_loop(), "_ready", None)
    return ready is None or len(ready) > 0
