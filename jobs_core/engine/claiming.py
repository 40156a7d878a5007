"""The engine's claims: jobs of the default worker up to its free capacity, and the next
job of each idle named worker; the claimed jobs are started at once.

A claim lingers while jobs stream in: after a default claim that took `LINGER_FROM` jobs or
more but fewer than it asked for, and that the store says took every job it found ready
(`ClaimedJobs.exhausted`: nothing held back by a queue's or a key's limit), the dispatch
loop's next default claim, and the outcome write that goes with it on a store whose writes
do not overlap (SQLite, `Store.finish_and_claim`), wait until `CLAIM_LINGER_SECS` after it.
An engine that keeps up with a producer in another process otherwise claims the few jobs
each turn of its loop finds, and pays a write transaction's fixed cost (and takes the one
write lock the producer then waits for) every few jobs. A trickle (claims of one job), a
backlog (full claims), a flow-controlled claim and `run_until_idle` never linger; a named
worker's or a keyed job's end, and `stop`, end a linger at once. The cost: a job that
arrives during a linger starts up to `CLAIM_LINGER_SECS` later, and the jobs that finished
meanwhile are committed as much later (what waits on them with them). While a claim
lingers the loop does not poll the store (`Engine._wait`): the linger's timer wakes it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from jobs_core.records import Job
from jobs_core.store.protocol import ClaimedJobs

from . import outcomes

if TYPE_CHECKING:
    from .engine import Engine

CLAIM_LINGER_SECS = 0.004
"""How long after a short, exhausted default claim the next one waits (module docstring)."""
LINGER_FROM = 2
"""Least jobs a short claim took for the next to linger: a trickle's claims of one do not."""


async def claim(engine: Engine, now: int, *, held: bool = False) -> int:
    """Claim and start what is due and fits; how many jobs started. `held`: the default
    claim lingers (`lingers`), only the named workers' claim is made."""
    if engine.stopping:
        return 0
    # One claim at a time (`run_until_idle` claims beside the dispatch loop): while a claim
    # awaits the store (PostgreSQL), its jobs are taken and not yet running, so another
    # would find nothing (and take the store for idle) or size itself to the same room.
    async with engine._claiming:
        return await _claim(engine, now, held)


def lingers(engine: Engine) -> bool:
    """Whether the dispatch loop's next default claim (and on SQLite the outcome write that
    goes with it) waits for more jobs now; a timer wakes the loop when it is due."""
    until = engine._claim_held_until
    if not until:
        return False
    left = until - time.monotonic()
    if left <= 0 or engine.stopping:
        engine._claim_held_until = 0.0
        return False
    if not engine._linger_timer:
        engine._linger_timer = True
        asyncio.get_running_loop().call_later(left, _linger_over, engine)
    return True


def _linger_over(engine: Engine) -> None:
    engine._linger_timer = False
    engine._wake.set()


def _note_short(engine: Engine, jobs: list[Job], limit: int) -> None:
    """After a default claim: whether the next one lingers (module docstring)."""
    engine._claim_default = len(jobs) == limit
    lingers = LINGER_FROM <= len(jobs) < limit
    if lingers and isinstance(jobs, ClaimedJobs) and jobs.exhausted:
        engine._claim_held_until = engine._last_claim + CLAIM_LINGER_SECS
    else:
        engine._claim_held_until = 0.0


async def flush_and_claim(engine: Engine) -> int:
    """Write the pending outcomes, and claim and start the default worker's next jobs in
    the same store call when a claim is wanted (`Store.finish_and_claim`: on SQLite one
    write transaction a dispatch turn instead of two); how many jobs started."""
    if engine._outcomes and _default_limit(engine):
        # One claim at a time, as `claim` (`run_until_idle` claims beside the loop).
        async with engine._claiming:
            limit = _default_limit(engine)  # the room may have gone meanwhile
            if limit:
                return await _flush_and_claim(engine, limit)
    await outcomes.flush(engine)
    return 0


async def _flush_and_claim(engine: Engine, limit: int) -> int:
    engine._last_claim = time.monotonic()
    now = engine.clock.now_ms()
    jobs = await outcomes.flush(engine, claim=limit, now=now)
    if jobs is None:  # another write took the outcomes meanwhile: the claim is still due
        return 0
    _note_short(engine, jobs, limit)
    if not jobs and engine._next_due is None:  # as after any claim that found nothing
        engine._next_due = await engine.store.next_due(now)
    return _start_all(engine, jobs)


def _default_limit(engine: Engine) -> int:
    """How many jobs of the default worker a claim now may take (0: no claim wanted)."""
    if engine.stopping or not engine._claim_default:
        return 0
    capacity = engine.settings.concurrency - _default_running(engine)
    return max(0, min(capacity, engine.settings.claim_batch))


async def _claim(engine: Engine, now: int, held: bool) -> int:
    claimed = 0
    looked = False
    commands = engine.registry.names()
    limit = 0 if held else _default_limit(engine)
    if limit:
        looked = True
        engine._last_claim = time.monotonic()
        beside_outcomes = outcomes.uncommitted(engine)
        jobs = await engine.store.claim(
            owner=engine.id, commands=commands, named=False, limit=limit, now=now,
            finished=outcomes.unwritten(engine),
        )  # fmt: skip
        _note_short(engine, jobs, limit)
        if not engine._claim_default and beside_outcomes:
            # Came back short beside outcomes not yet committed (a write under way, or
            # outcomes lingering before theirs), which may let more in (a key or a queue
            # below its limit again): look again once they are.
            if outcomes.uncommitted(engine):
                engine._claim_after_write = True
            else:
                engine._claim_default = True
        claimed += _start_all(engine, jobs)
        if claimed:
            # The jobs just started begin now, before the named workers' claim and the
            # loop's upkeep (~0.1 ms of enqueue-to-start latency at a trickle).
            await asyncio.sleep(0)
            if engine.stopping:  # `stop` began meanwhile: claim nothing more
                return claimed
    # While the outcome of a named worker's job is being written, its next job waits for
    # it (the write wakes us), then starts at a time read after it: a worker's jobs
    # never seem to overlap.
    if engine._claim_named and not engine._writing_named:
        looked = True
        engine._claim_named = False
        jobs = await engine.store.claim(
            owner=engine.id, commands=commands, named=True, limit=1000,
            now=engine.clock.now_ms(),
        )  # fmt: skip
        claimed += _start_all(engine, jobs)
    # Only after a claim found nothing: when no claim ran, nothing changed since the last
    # look (a server round trip per idle poll is not free on PostgreSQL).
    if looked and not claimed and engine._next_due is None:
        engine._next_due = await engine.store.next_due(now)
    return claimed


def _default_running(engine: Engine) -> int:
    return sum(1 for r in engine.running.values() if not r.job.worker)


def _start_all(engine: Engine, jobs: list[Job]) -> int:
    if engine.telemetry is not None and jobs:
        engine.telemetry.claimed(jobs, engine.clock.now_ms())
    if jobs:
        engine._start(jobs)
        engine._last_work = time.monotonic()
    return len(jobs)
