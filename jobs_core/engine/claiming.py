"""The engine's claims: jobs of the default worker up to its free capacity, and the next
job of each idle named worker; the claimed jobs are started at once."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from jobs_core.records import Job

if TYPE_CHECKING:
    from .engine import Engine


LINGER_SECS = 0.005
"""While jobs stream in (see `lingering`), how long after a claim that took some the next
default claim waits, so that it takes more at once."""
STREAM_BATCH = 2
"""A claim that took this many jobs or more, fewer than it could: jobs are streaming in
(at a trickle, one at a time, claims take one)."""


async def claim(engine: Engine, now: int, *, linger: bool = False) -> int:
    """Claim and start what is due and fits; how many jobs started. `linger`: the dispatch
    loop's claim, which may wait for a stream of jobs to fill a batch (`lingering`)."""
    if engine.stopping:
        return 0
    # One claim at a time (`run_until_idle` claims beside the dispatch loop): while a claim
    # awaits the store (PostgreSQL), its jobs are taken and not yet running, so another
    # would find nothing (and take the store for idle) or size itself to the same room.
    async with engine._claiming:
        return await _claim(engine, now, linger)


def lingering(engine: Engine) -> float:
    """Seconds the next default claim waits, or 0.

    A claim and an outcome write cost the engine ~150 µs each whatever their size (a write
    transaction, a statement or two), ~13 µs a job beside: an engine that keeps up with
    producers claims after each of their commits, a few jobs at a time, and pays the fixed
    costs for every few jobs (measured with one producer in another process: claims of 8
    to 16 jobs, 85-96 µs of engine CPU a job, against ~55 in claims of 100). So while jobs
    stream in (the last claim that took jobs took several, fewer than it could), the next
    claim waits until LINGER_SECS after it. An engine that was idle,
    or whose last claim was full (a backlog), claims at once: no latency at a trickle."""
    if not engine._streaming:
        return 0.0
    return max(0.0, engine._last_took + LINGER_SECS - time.monotonic())


async def _claim(engine: Engine, now: int, linger: bool) -> int:
    claimed = 0
    looked = False
    commands = engine.registry.names()
    capacity = engine.settings.concurrency - _default_running(engine)
    wait = lingering(engine) if linger else 0.0
    if engine._claim_default and capacity > 0 and wait:
        engine.linger_until(wait)
    elif engine._claim_default and capacity > 0:
        looked = True
        engine._last_claim = time.monotonic()
        limit = min(capacity, engine.settings.claim_batch)
        writing = engine._flush_task
        writing = writing if writing is not None and not writing.done() else None
        jobs = await engine.store.claim(
            owner=engine.id, commands=commands, named=False, limit=limit, now=now
        )
        engine._claim_default = len(jobs) == limit
        _note_stream(engine, len(jobs), limit)
        if not engine._claim_default and writing is not None:
            # Came back short beside an outcome write, which may let more in (a key or a
            # queue below its limit again): look again once the write is committed.
            if writing.done():
                engine._claim_default = True
            else:
                engine._claim_after_write = True
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


def _note_stream(engine: Engine, took: int, limit: int) -> None:
    if took:
        engine._streaming = STREAM_BATCH <= took < limit
        engine._last_took = engine._last_claim


def _default_running(engine: Engine) -> int:
    return sum(1 for r in engine.running.values() if not r.job.worker)


def _start_all(engine: Engine, jobs: list[Job]) -> int:
    if engine.telemetry is not None and jobs:
        engine.telemetry.claimed(jobs, engine.clock.now_ms())
    for job in jobs:
        engine._start(job)
    if jobs:
        engine._last_work = time.monotonic()
    return len(jobs)
