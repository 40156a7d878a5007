"""Writing finished attempts to the store in group commits; where `Store.outcomes_behind`
(PostgreSQL; SQLite at FULL), in the background of the dispatch loop: while a batch of
outcomes is being written, the loop claims and starts the next jobs. On PostgreSQL the two
round trips overlap instead of adding up; on SQLite at FULL the outcomes' fsync is paid
once a linger rather than with every claim (a job fed at a time: one fsync a job in the
engine, holding the write lock the producers wait for, before).

One write at a time, under the engine's `_writing` lock, so a batch never overtakes the one
before it and `run_until_idle` and `stop` can wait for the write under way.

A background write lingers: while fewer than `LINGER_BELOW` outcomes are pending, it starts
`LINGER_SECS` after the dispatch loop first saw them, so that an engine fed one job at a
time writes a few outcomes a call rather than one (a `finish_jobs` call costs the server
~0.5 ms whatever it holds; an fsync ~0.1-0.3 ms). Meanwhile the loop waits on its wake-up (a
timer ends the linger), never spins. The cost: a job's end is committed up to `LINGER_SECS`
later, and so are what waits on it (a `wait()`er's answer, a key's or a limited queue's
freed room, dependents; a claim that came back short meanwhile looks again after the write,
`claiming.py`). A named worker's outcome never lingers: the worker's next job waits for its
write.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from jobs_core.records import Job, JobState
from jobs_core.rules import Attempt, Outcome, completion, decide, succeeded
from jobs_core.scheduler import TASK_META
from jobs_core.store.protocol import NewJob, Transition

if TYPE_CHECKING:
    from .engine import Engine


LINGER_SECS = 0.002
"""How long pending outcomes wait for more before a background write starts."""
LINGER_BELOW = 16
"""Pending outcomes that start a background write at once."""


def start_flush(engine: Engine) -> None:
    """Start writing the pending outcomes unless a write is under way or they linger; raise
    the error of the last background write, if it failed (its outcomes were kept for the
    next one)."""
    task = engine._flush_task
    if task is not None and task.done():
        engine._flush_task = None
        error = engine._flush_error
        engine._flush_error = None
        if error is not None:
            raise error
    if not engine._outcomes:
        engine._linger_until = None  # written meanwhile by `flush`
        return
    if engine._flush_task is None and not _lingers(engine):
        engine._linger_until = None
        engine._flush_task = asyncio.create_task(_flush_in_background(engine))


def _lingers(engine: Engine) -> bool:
    """Whether the pending outcomes wait for more (a timer wakes the loop when they are
    due)."""
    if len(engine._outcomes) >= LINGER_BELOW or engine.stopping:
        return False
    if any(job.worker for job, _ in engine._outcomes):
        return False  # a named worker's next job waits for this write (`claiming.py`)
    now = time.monotonic()
    if engine._linger_until is None:
        engine._linger_until = now + LINGER_SECS
        asyncio.get_running_loop().call_later(LINGER_SECS, engine._wake.set)
        return True
    return now < engine._linger_until


def waits(engine: Engine) -> bool:
    """Whether the dispatch loop may wait on its wake-up with outcomes pending: a write is
    under way (its end wakes the loop) or they linger (a timer does)."""
    if not engine.store.outcomes_behind:
        return not engine._outcomes
    lingering = engine._linger_until is not None and time.monotonic() < engine._linger_until
    return not engine._outcomes or writing(engine) or lingering


def writing(engine: Engine) -> bool:
    """Whether a background write is under way."""
    task = engine._flush_task
    return task is not None and not task.done()


def uncommitted(engine: Engine) -> bool:
    """Whether outcomes are being written in the background, or wait for their write (they
    linger): the end of that write wakes the loop."""
    return writing(engine) or (engine.store.outcomes_behind and bool(engine._outcomes))


async def _flush_in_background(engine: Engine) -> None:
    named = any(job.worker for job, _ in engine._outcomes)
    engine._writing_named = named
    engine._writing_runs = any(TASK_META in job.meta for job, _ in engine._outcomes)
    try:
        await flush(engine)
    except Exception as error:  # the dispatch loop raises it and backs off
        engine._flush_error = error
    finally:
        engine._writing_named = engine._writing_runs = False
    if engine._claim_after_write:
        engine._claim_after_write = False
        engine._claim_default = True
    # The named workers of the written jobs are free again (or their outcomes are back in
    # the queue of outcomes, to be written first).
    engine._claim_named = engine._claim_named or named
    engine._wake.set()


def holds_task_runs(engine: Engine) -> bool:
    """Whether an outcome not yet written (pending, or in the write under way) is that of
    a scheduled task's run: the scheduler reads how a task's last run ended."""
    return engine._writing_runs or any(TASK_META in job.meta for job, _ in engine._outcomes)


async def wait_for_flush(engine: Engine) -> None:
    """Let a background write finish (its error, if any, is left to `start_flush`)."""
    task = engine._flush_task
    if task is not None and not task.done():
        await asyncio.wait([task])


async def flush(engine: Engine, *, claim: int = 0, now: int | None = None) -> list[Job] | None:
    """Write the pending outcomes now (after the write under way, if any); with `claim`,
    claim up to that many jobs of the default worker in the same store call
    (`Store.finish_and_claim`) and return them, not started; None if there was nothing to
    write (another write took the outcomes), and so no claim. `now`: the time of the write
    and the claim (else the clock's, read once the write may begin)."""
    if not engine._outcomes and not engine._writing.locked():
        return None
    async with engine._writing:
        return await _write(engine, claim, now)


async def _write(engine: Engine, claim: int = 0, now: int | None = None) -> list[Job] | None:
    if not engine._outcomes:
        return None
    outcomes, engine._outcomes = engine._outcomes, []
    engine._in_write = outcomes
    try:
        return await _write_out(engine, outcomes, claim, now)
    finally:
        engine._in_write = []


def unwritten(engine: Engine) -> list[int]:
    """Jobs whose handlers ended, their outcomes pending or being written (and the job not
    running here again): still `started` in the store until the write commits, they no
    longer run (`Store.claim`'s `finished`)."""
    if not engine._outcomes and not engine._in_write:
        return []
    running = engine.running
    return [job.id for job, _ in (*engine._in_write, *engine._outcomes) if job.id not in running]


async def _write_out(
    engine: Engine, outcomes: list[tuple[Job, Attempt]], claim: int, now: int | None
) -> list[Job]:
    now = engine.clock.now_ms() if now is None else now
    transitions, new_jobs = _decided(engine, outcomes, now)
    claimed: list[Job] = []
    try:
        if claim:
            result, claimed = await engine.store.finish_and_claim(
                transitions, new_jobs, now,
                owner=engine.id, commands=engine.registry.names(), limit=claim,
            )  # fmt: skip
        else:
            result = await engine.store.finish(transitions, new_jobs, now)
    except BaseException:
        engine._outcomes = outcomes + engine._outcomes
        raise
    if engine.telemetry is not None and engine.telemetry.active:
        engine.telemetry.finished(outcomes)
    _count(engine, transitions, result.applied)
    if result.released_dependents or result.new_job_ids:
        engine._claim_default = engine._claim_named = True
    if engine.on_finished is not None:
        engine.on_finished.fire()
    return claimed


def _count(engine: Engine, transitions: list[Transition], applied_ids: list[int]) -> None:
    """Count the engine's attempts whose outcome was written (`applied_ids`), and note when
    its retries are due."""
    applied = set(applied_ids)  # a list: `in` would scan it once per transition
    owner = engine.id
    processed = failed = 0
    for t in transitions:
        if t.owner_guard == owner and t.job_id in applied:
            processed += 1
            state = t.state
            if state is JobState.COMPLETED:  # most: nothing more to look at
                continue
            failed += state is JobState.FAILED
            if state is JobState.QUEUED and t.run_after is not None:
                engine.note_due(t.run_after)
    engine.processed += processed
    engine.failed += failed


def _decided(
    engine: Engine, outcomes: list[tuple[Job, Attempt]], now: int
) -> tuple[list[Transition], list[NewJob]]:
    """The transitions and new jobs the outcomes make (`rules.decide`)."""
    transitions: list[Transition] = []
    new_jobs: list[NewJob] = []
    owner = engine.id
    for job, attempt in outcomes:
        if attempt.outcome is Outcome.SUCCESS:  # most: no policy to look up
            done = completion(job, attempt, owner)
            if done is not None:  # most again: one transition, no `Decision` made
                transitions.append(done)
                continue
            decision = succeeded(job, attempt, owner)
        else:
            command = engine.registry.find(job.command)
            decision = decide(
                job, attempt, owner=owner, now=now, settings=engine.settings, rng=engine._rng,
                policy=command.retry if command is not None else None,
            )  # fmt: skip
        transitions += decision.transitions
        if decision.new_jobs:
            new_jobs += decision.new_jobs
    return transitions, new_jobs
