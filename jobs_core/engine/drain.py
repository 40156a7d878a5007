"""Drain mode: run an engine until nothing due is left, within a deadline (tests, scripts)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from jobs_core.errors import StillBusyError

from . import activity, maintenance

if TYPE_CHECKING:
    from .engine import Engine


async def run_until_idle(engine: Engine, timeout: float) -> None:
    """Return once nothing runs and nothing due can be claimed; StillBusyError naming what
    still runs once `timeout` seconds of wall time pass (the jobs keep running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await engine._flush_outcomes()
        await activity.flush(engine, force=True)
        now = engine.clock.now_ms()
        await engine.sweep_expired(now)
        claimed = await engine._claim_again(now)
        # A write under way in the dispatch loop (on a store that awaits I/O) is not done.
        writing = engine._writing.locked()
        if not claimed and not engine.running and not engine._outcomes and not writing:
            if engine._next_tick is None or engine._next_tick <= now:
                await maintenance.run_tickers(engine, now)
                if await engine._claim_again(now):
                    continue
            await maintenance.wait_for_archive(engine)
            await engine.store.archive_finished(now, engine.settings.archive_batch)
            return
        if engine.running:
            await asyncio.wait(
                [r.task for r in engine.running.values()],
                timeout=max(0.0, deadline - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
    raise _still_busy(engine, timeout)


def _still_busy(engine: Engine, timeout: float) -> StillBusyError:
    running = sorted((job_id, r.job.command) for job_id, r in engine.running.items())
    shown = ", ".join(f"job {job_id} ({command})" for job_id, command in running[:10])
    more = f" and {len(running) - 10} more" if len(running) > 10 else ""
    what = f"still running: {shown}{more}" if running else "jobs kept becoming due"
    return StillBusyError(f"run_until_idle: not idle after {timeout:g}s; {what}", running=running)
