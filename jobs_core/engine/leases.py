"""An engine's lease: heartbeats, and recovery of the jobs of engines that died."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from jobs_core.backoff import Backoff
from jobs_core.errors import JobsError
from jobs_core.liveness import pid_alive

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("jobs.engine")


async def heartbeat_loop(engine: Engine) -> None:
    """Renew the engine's lease and publish its figures until it stops; recover on the way."""
    trouble = Backoff(f"engine {engine.id}: heartbeat", log)
    while not engine.stopping:
        await asyncio.sleep(engine.settings.heartbeat_secs)
        try:
            await beat(engine)
        except JobsError as error:
            trouble.failed(error)  # logged once per interval; the next beat tries again
        else:
            trouble.succeeded()


async def beat(engine: Engine) -> None:
    """Renew the engine's lease, then recover at the same instant: a clock that jumps (or a
    process paused) between the two must not make the engine take its own running jobs for
    lost and run them a second time."""
    now = engine.clock.now_ms()
    await engine.store.heartbeat(
        engine.id, now, engine.lease_ms, len(engine.running), engine.processed, engine.failed
    )
    await recover(engine, now)


async def recover(engine: Engine, now: int | None = None) -> None:
    """Requeue (or fail) the jobs of dead engines: lapsed leases, or dead PIDs on this host."""
    now = engine.clock.now_ms() if now is None else now
    dead = [
        e.id
        for e in await engine.store.engines(now)
        if e.alive and e.host == engine.host and e.id != engine.id and not pid_alive(e.pid)
    ]
    if dead:
        log.warning("engine %s: engines whose process is gone: %s", engine.id, ", ".join(dead))
    recovered = await engine.store.recover_lost(now, dead)
    if recovered:
        log.warning("engine %s recovered jobs of dead engines: %s", engine.id, recovered)
        engine.wake()
