"""What the dispatch loop does beside claiming: timeouts, cancels asked from elsewhere,
activity, expiry, the tickers (the scheduler) and archiving, each at its own interval."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from jobs_core.clock import NEVER
from jobs_core.errors import JobsError

from . import activity, outcomes
from .runner import CANCEL_TIMEOUT

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("jobs.engine")

WATCHDOG_SECS = 0.05
"""How often running jobs are checked against their timeouts (their accuracy)."""


async def maintain(engine: Engine, now: int) -> None:
    """One pass of the dispatch loop's upkeep (each part does nothing until it is due)."""
    if engine.running:
        enforce_timeouts(engine)
    if engine._control_check:
        engine._control_check = False
        if engine.running:
            for job_id, reason in await engine.store.cancel_requested(engine.id):
                engine.cancel_running(job_id, reason)
    await activity.flush(engine)
    if time.monotonic() - engine._last_sweep >= engine.settings.expiry_sweep_secs:
        engine._last_sweep = time.monotonic()
        await engine.sweep_expired(now)
    if engine._next_tick is None or engine._next_tick <= now:
        # The scheduler reads how a task's last run ended (its overlap rule): a run's
        # outcome not yet written, or being written in the background, goes first.
        if outcomes.holds_task_runs(engine):
            await outcomes.flush(engine)
        await run_tickers(engine, now)
    if (
        engine._archiving is None
        and time.monotonic() - engine._last_archive >= engine.settings.archive_secs
        and engine._archive_trouble.due()
    ):
        engine._last_archive = time.monotonic()
        engine._archiving = asyncio.create_task(archive(engine, now))


async def archive(engine: Engine, now: int) -> None:
    """One archive pass, in the background of the dispatch loop: a store whose archive
    copies in a thread of its own (SQLite) then copies while the loop claims and finishes."""
    try:
        archived = await engine.store.archive_finished(
            now, engine.settings.archive_batch, in_order=True
        )
        if archived >= engine.settings.archive_batch:  # more wait: the next pass at once
            engine._last_archive = NEVER
    except JobsError as error:  # finished jobs wait in the live store meanwhile
        engine._archive_trouble.failed(error)
    except Exception as error:
        log.exception("engine %s: archiving failed", engine.id)
        engine._archive_trouble.failed(error)
    else:
        engine._archive_trouble.succeeded()
    finally:
        engine._archiving = None


async def wait_for_archive(engine: Engine) -> None:
    """Let the archive pass under way end (`stop`, `run_until_idle`)."""
    task = engine._archiving
    if task is not None:
        await asyncio.wait([task])


async def run_tickers(engine: Engine, now: int) -> None:
    """Call each ticker; the engine calls them again when the earliest of them asks."""
    wanted: list[int] = []
    for ticker in engine.tickers:
        try:
            when = await ticker(now)
        except JobsError as error:
            log.error("engine %s: scheduler: %s", engine.id, error)
            when = now + 1000
        if when is not None:
            wanted.append(when)
    engine._next_tick = min(wanted) if wanted else now + 1000


def enforce_timeouts(engine: Engine) -> None:
    """Cancel the running jobs past their timeout (at most every WATCHDOG_SECS)."""
    now = time.monotonic()
    if now - engine._last_watchdog < WATCHDOG_SECS:
        return
    engine._last_watchdog = now
    for job_id, running in list(engine.running.items()):
        since = running.ctx.running_since
        if since is not None and since + running.timeout <= now:
            engine.cancel_running(job_id, CANCEL_TIMEOUT)
