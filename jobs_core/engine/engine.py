"""The engine: claims due jobs, runs them, writes outcomes in group commits, keeps its lease."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from jobs_core.backoff import Backoff
from jobs_core.clock import NEVER, Clock
from jobs_core.context import JobContext
from jobs_core.errors import JobsError
from jobs_core.liveness import this_host
from jobs_core.records import Job
from jobs_core.registry import Command, CommandRegistry
from jobs_core.rules import REPLY_COMMAND, Attempt
from jobs_core.settings import Settings
from jobs_core.store.protocol import EngineRegistration, Store
from jobs_core.transient import TransientJob

from . import activity, claiming, maintenance, outcomes, retention
from .drain import run_until_idle
from .leases import heartbeat_loop, recover
from .runner import CANCEL_SHUTDOWN, run_attempt
from .transient_runner import run_transient

if TYPE_CHECKING:
    from jobs_core.app import BackgroundJobs
    from jobs_core.telemetry import Telemetry
    from jobs_core.waiting import ChangeWatch

log = logging.getLogger("jobs.engine")

TICK_ON_CHANGE_MS = 200
"""After another process commits, tickers (the scheduler) run within this many ms."""

Ticker = Callable[[int], Awaitable[int | None]]
"""A periodic service (the scheduler): called with now, returns when it next wants a call."""


WAKE_HOLD_SECS = 0.001
"""Least time between the engine's last claim and a wake-up by another process's change
(`_changed`)."""


@dataclass(slots=True)
class Running:
    job: Job
    task: asyncio.Task[None]
    ctx: JobContext
    timeout: float
    """Seconds the attempt may run, counted from `ctx.running_since`."""
    cancel_reason: str | None = None


class Engine:
    """One engine per process: a dispatcher task and a heartbeat task over a store."""

    def __init__(
        self,
        store: Store,
        registry: CommandRegistry,
        settings: Settings,
        clock: Clock,
        *,
        facade: BackgroundJobs | None = None,
        prepare: Callable[[JobContext], Awaitable[None] | None] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self.clock = clock
        self.facade = facade
        self.prepare = prepare
        self.host = this_host()
        self.pid = os.getpid()
        self.id = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.tickers: list[Ticker] = []
        self.running: dict[int, Running] = {}
        self.processed = 0
        self.failed = 0
        self._rng = random.Random()
        self._now_ms = clock.now_ms
        self._activity = self._on_activity
        """Bound once: each job's context holds them while it runs (two objects fewer a
        job for the garbage collector)."""
        self.executor = ThreadPoolExecutor(settings.sync_threads, thread_name_prefix="jobs")
        self._outcomes: list[tuple[Job, Attempt]] = []
        self._in_write: list[tuple[Job, Attempt]] = []
        """The outcomes of the write under way (`outcomes._write`)."""
        self._wake = asyncio.Event()
        self._claim_default = True
        self._claim_named = True
        self.stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._next_due: int | None = None
        self._next_tick: int | None = None
        self._change_token = -1
        self._last_work = time.monotonic()
        self._last_claim = NEVER
        """When the dispatch loop last claimed on the default worker (`time.monotonic()`)."""
        self._wake_held = False
        self._claim_held_until = 0.0
        """Until when the dispatch loop's default claim lingers (`claiming.lingers`; 0: no)."""
        self._linger_timer = False
        """A timer will wake the loop when the linger ends."""
        self._last_activity_flush = NEVER
        self._last_archive = NEVER
        self._archiving: asyncio.Task[None] | None = None
        """The archive pass under way in the background (`maintenance.archive`)."""
        self._last_watchdog = NEVER
        self._last_sweep = NEVER
        self._runs_named = any(c.worker for c in registry.commands())
        """Whether some command of this engine runs on a named worker."""
        self._activity_pending = False
        self._activity_task: asyncio.Task[None] | None = None
        """An activity write queued behind a write under way (`activity.flush`)."""
        self._flush_task: asyncio.Task[None] | None = None
        self._flush_error: Exception | None = None
        self._linger_until: float | None = None
        """When pending outcomes stop waiting for more (`outcomes.start_flush`)."""
        self._writing_named = False
        """Whether the background write under way holds outcomes of named workers' jobs."""
        self._writing_runs = False
        """Whether it holds outcomes of scheduled tasks' runs (`outcomes.holds_task_runs`)."""
        self._claim_after_write = False
        """A default claim came back short while an outcome write was under way: claim
        again once it is committed (`claiming.claim`)."""
        self._claiming = asyncio.Lock()
        """Held by the claim under way (`claiming.claim`): the dispatch loop's and
        `run_until_idle`'s never overlap."""
        self._writing = asyncio.Lock()
        """Held while outcomes or activity are written (outcomes in the background of the
        dispatch loop, `outcomes.py`; `run_until_idle` and `stop` flush beside it): one write
        must not overtake another (activity of a job written after its outcome would be
        lost; a drain would return before the outcomes it did not see were committed)."""
        self._worker_locks: dict[str, asyncio.Lock] = {}
        self._transient_seq = 0
        self._trouble = Backoff(f"engine {self.id}: writing to the store", log)
        self._archive_trouble = Backoff(
            f"engine {self.id}: archiving finished jobs", log, first_secs=1.0, max_secs=30.0
        )
        self.telemetry: Telemetry | None = None
        """Spans and metrics of attempts; None without `opentelemetry-api`."""
        self.on_finished: ChangeWatch | None = None
        """Fired after each batch of outcomes is written, once something waits on a job."""

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        now = self.clock.now_ms()
        registration = EngineRegistration(
            id=self.id, host=self.host, pid=self.pid, workers=[],
            commands=self.registry.names(), concurrency=self.settings.concurrency,
        )  # fmt: skip
        await self.store.register_engine(registration, now, self.lease_ms)
        await self.store.declare_commands(
            [
                command.definition(declared_by=self.id, declared_at=now)
                for command in self.registry.commands()
                if command.name != REPLY_COMMAND
            ]
        )
        await self._recover()
        self._change_token = self.store.change_token()
        self.store.on_change(self._changed)
        self._tasks = [
            asyncio.create_task(self._dispatch_loop(), name=f"jobs-dispatch-{self.id}"),
            asyncio.create_task(self._heartbeat_loop(), name=f"jobs-heartbeat-{self.id}"),
        ]
        if retention.wanted(self):
            name = f"jobs-retention-{self.id}"
            self._tasks.append(asyncio.create_task(retention.retention_loop(self), name=name))

    async def stop(self) -> None:
        """Stop claiming, let running jobs finish (bounded), write everything, release."""
        self.stopping = True
        self.wake()
        if self.running:
            tasks = [r.task for r in self.running.values()]
            _, pending = await asyncio.wait(tasks, timeout=self.settings.drain_timeout_secs)
            for running in list(self.running.values()):
                if running.task in pending:
                    running.cancel_reason = CANCEL_SHUTDOWN
                    running.task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5.0)
        self.store.on_change(None)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await outcomes.wait_for_flush(self)
        await maintenance.wait_for_archive(self)
        try:
            await self._flush_outcomes()
            await activity.flush(self, force=True)
            await self.store.archive_finished(self.clock.now_ms(), self.settings.archive_batch)
        except JobsError as error:
            # Unwritten outcomes are not lost: the jobs stay started and are recovered.
            log.error("engine %s: while stopping: %s", self.id, error)
        finally:
            self.executor.shutdown(wait=False, cancel_futures=True)
            try:
                await self.store.stop_engine(self.id, self.clock.now_ms())
            except JobsError as error:  # its lease lapses instead; nothing is lost
                log.error("engine %s: cannot record its stop: %s", self.id, error)

    def _changed(self) -> None:
        """Another process changed the store (a backend that is told so calls this)."""
        # Within WAKE_HOLD_SECS of the last claim the wake-up waits for the rest of it: a claim
        # at every commit of a busy producer would claim batches of one (measured: +10 µs
        # of engine CPU a job with one producer awaiting each enqueue).
        wait = max(self._last_claim + WAKE_HOLD_SECS, self._claim_held_until) - time.monotonic()
        if wait <= 0:
            self._wake.set()
        elif not self._wake_held:
            self._wake_held = True
            asyncio.get_running_loop().call_later(wait, self._held_wake)

    def _held_wake(self) -> None:
        self._wake_held = False
        self._wake.set()

    def wake(self, *, named: bool = True) -> None:
        """Look for work now (an in-process enqueue, a finished job, a control request)."""
        self._claim_default = True
        self._claim_named = self._claim_named or named
        self._wake.set()

    def tick_soon(self) -> None:
        """Run the tickers at the next turn of the loop (a scheduler change in this process)."""
        self._next_tick = None
        self._wake.set()

    def note_due(self, run_after: int) -> None:
        """A job enqueued in this process becomes due at `run_after`."""
        if self._next_due is None or run_after < self._next_due:
            self._next_due = run_after
        self._wake.set()

    @property
    def lease_ms(self) -> int:
        return round(self.settings.lease_secs * 1000)

    # -- dispatch loop ----------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        # A store that keeps failing (a full disk, a restarting server) is retried with
        # growing pauses and logged once per interval; unwritten outcomes and activity stay
        # in memory.
        while not self.stopping:
            try:
                await self._dispatch_once()
            except JobsError as error:
                await asyncio.sleep(self._trouble.failed(error))
            except Exception as error:
                if not self._trouble.failures:
                    log.exception("engine %s: dispatch failed", self.id)
                await asyncio.sleep(self._trouble.failed(error))
            else:
                self._trouble.succeeded()
                continue
            # Whatever was missed while the store failed (a change, a cancel) is looked at.
            self._claim_default = self._claim_named = self._control_check = True

    async def _dispatch_once(self) -> None:
        # Cleared as the turn begins, not as it ends: a wake-up during the turn (a job
        # enqueued in this process, another process's commit, a write that ended) makes
        # the wait after it return at once instead of being lost until the next poll.
        self._wake.clear()
        held = claiming.lingers(self)
        if self.store.outcomes_behind:
            outcomes.start_flush(self)
            claimed = 0
        elif held:  # the outcomes wait for the claim they are written with
            claimed = 0
        else:
            claimed = await claiming.flush_and_claim(self)
        now = self.clock.now_ms()
        self._check_changes()
        if self._next_due is not None and self._next_due <= now:
            self._next_due = None
            self._claim_default = self._claim_named = True
        claimed += await claiming.claim(self, now, held=held)
        await maintenance.maintain(self, now)
        if claimed or not (held or outcomes.waits(self)):
            await asyncio.sleep(0)
            return
        await self._wait(now)

    def _check_changes(self) -> None:
        token = self.store.change_token()
        if token != self._change_token:
            self._change_token = token
            self._claim_default = self._claim_named = True
            self._control_check = True
            self._last_work = time.monotonic()
            # Another process may have asked for a scheduled run now: look soon, not at once,
            # so a busy store does not run the scheduler on every commit.
            soon = self.clock.now_ms() + TICK_ON_CHANGE_MS
            if self._next_tick is None or self._next_tick > soon:
                self._next_tick = soon

    _control_check = False

    async def sweep_expired(self, now: int) -> list[int]:
        """Cancel queued jobs past their expiry (`Expired`); claims never start them anyway,
        so the sweep only settles their state and their dependents'."""
        expired = await self.store.expire_due(now, self.settings.archive_batch)
        if expired:
            log.info("engine %s: expired before they started: %s", self.id, expired)
        return expired

    async def _wait(self, now: int) -> None:
        idle = time.monotonic() - self._last_work > self.settings.idle_after_secs
        timeout = self.settings.poll_idle_secs if idle else self.settings.poll_active_secs
        # While a claim lingers its timer wakes the loop: a poll before it could only find
        # the jobs the linger waits for (a turn for nothing, ~3 a linger).
        timeout = max(timeout, self._claim_held_until - time.monotonic())
        for when in (self._next_due, self._next_tick):
            if when is not None:
                timeout = min(timeout, max(0.0, (when - now) / 1000))
        if self._activity_pending:
            timeout = min(timeout, self.settings.progress_flush_secs)
        if self.running:
            timeout = min(timeout, maintenance.WATCHDOG_SECS)
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
            self._last_work = time.monotonic()
        except TimeoutError:
            pass

    def _start(self, jobs: list[Job]) -> None:
        """Start a task for each of `jobs` (just claimed), in order."""
        # One call for the claim, the engine's attributes read once: ~0.1 µs a job each.
        facade, now_ms, on_activity = self.facade, self._now_ms, self._activity
        commands, default_timeout = self.registry.get, self.settings.default_timeout_secs
        running = self.running
        loop = asyncio.get_running_loop()
        # A job's task made by the `Task` class itself unless the loop has a task factory:
        # `asyncio.create_task(coro, name=...)` is `loop.create_task` then `set_name`, Python
        # wrappers that cost ~1 µs of the ~2.7 a job's task took (measured).
        factory = loop.get_task_factory() is not None
        for job in jobs:
            ctx = JobContext(job, jobs=facade, now_ms=now_ms, on_activity=on_activity)
            command = commands(job.command)
            run, name = self._run(job, ctx, command), f"job-{job.id}"
            if factory:
                task = loop.create_task(run, name=name)
            else:
                task = asyncio.Task(run, loop=loop, name=name)
            if not command.is_async:
                ctx.running_since = None  # set by the thread that takes the job
            running[job.id] = Running(job, task, ctx, job.timeout_secs or default_timeout)

    async def _run(self, job: Job, ctx: JobContext, command: Command) -> None:
        entry = self.running[job.id]
        lock = self.worker_lock(job.worker) if job.worker else None
        if lock is not None:
            await lock.acquire()
        try:
            attempt_run = run_attempt(
                command, ctx, executor=self.executor, prepare=self.prepare, running=entry
            )
            telemetry = self.telemetry
            if telemetry is not None and telemetry.tracing:
                attempt = await telemetry.attempt(job, attempt_run)
            else:
                attempt = await attempt_run
        finally:
            if lock is not None:
                lock.release()
        self._outcomes.append((job, attempt))
        del self.running[job.id]
        self._claim_default = True
        # A named worker's first job may wait on this job's concurrency key (only an engine
        # that runs named workers looks again for that: a claim statement per finish).
        if job.worker or job.concurrency_key is not None:
            # Its next job (a worker's, a key's) waits for this outcome: write it now.
            self._claim_held_until = 0.0
        keyed = job.concurrency_key is not None and self._runs_named
        self._claim_named = self._claim_named or bool(job.worker) or keyed
        self._wake.set()

    def run_transient(self, job: Job) -> TransientJob:
        """Run `job` without storing it: serially on its named worker, or concurrently."""
        self._transient_seq += 1
        return run_transient(self, replace(job, id=-self._transient_seq))

    def worker_lock(self, worker: str) -> asyncio.Lock | None:
        """The lock that keeps a named worker's jobs in this process one at a time."""
        if not worker:
            return None
        return self._worker_locks.setdefault(worker, asyncio.Lock())

    def cancel_running(self, job_id: int, reason: str) -> bool:
        """Cancel a job this engine runs; True if it was running here."""
        running = self.running.get(job_id)
        if running is None or running.cancel_reason is not None:
            return running is not None
        running.cancel_reason = reason
        running.ctx.request_cancel()
        running.task.cancel()
        return True

    # -- writing ----------------------------------------------------------------------------

    async def _flush_outcomes(self) -> None:
        await outcomes.flush(self)

    def _on_activity(self) -> None:
        self._activity_pending = True

    # -- leases -----------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        await heartbeat_loop(self)

    async def _recover(self) -> None:
        await recover(self)

    # -- test and tooling support -----------------------------------------------------------

    async def run_until_idle(self, timeout: float = 30.0) -> None:
        """Return once nothing is running and nothing due can be claimed (tests, scripts).

        Raises StillBusyError naming what still runs once `timeout` seconds of wall time
        pass, whatever the clock; the jobs keep running.
        """
        await run_until_idle(self, timeout)

    async def _claim_again(self, now: int) -> bool:
        self._claim_default = self._claim_named = True
        return bool(await claiming.claim(self, now))
