"""Retention in the background: one engine of the store at a time removes finished jobs past
`Settings.keep_completed` / `keep_failed`, a small step at a time."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING

from jobs_core.backoff import Backoff
from jobs_core.errors import JobsError
from jobs_core.retention import retention_limits
from jobs_core.store.history_protocol import HistoryStore

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("jobs.engine")

STEP_PAUSE_SECS = 1.0
"""Pause between two retention steps while old jobs remain: the hot path comes first."""
MAINTENANCE = "retention"


def wanted(engine: Engine) -> bool:
    """Whether the engine's settings ask for retention and its store can apply it."""
    settings = engine.settings
    keeps = settings.keep_completed is not None or settings.keep_failed is not None
    return keeps and isinstance(engine.store, HistoryStore)


async def retention_loop(engine: Engine) -> None:
    """Every `retention_every_secs` (with jitter), the engine that wins the store's
    compare-and-set removes what is past the limits, one step a second."""
    store = engine.store
    assert isinstance(store, HistoryStore)
    settings = engine.settings
    every_ms = round(settings.retention_every_secs * 1000)
    trouble = Backoff(f"engine {engine.id}: retention", log, first_secs=5.0, max_secs=300.0)
    first = True
    while not engine.stopping:
        await asyncio.sleep(_pause(settings.retention_every_secs, first))
        first = False
        try:
            now = engine.clock.now_ms()
            if await store.claim_maintenance(MAINTENANCE, now, every_ms):
                removed = await _steps(engine, store)
                if removed:
                    log.info("engine %s: retention removed %d old jobs", engine.id, removed)
        except JobsError as error:
            await asyncio.sleep(trouble.failed(error))
        else:
            trouble.succeeded()


async def _steps(engine: Engine, store: HistoryStore) -> int:
    removed = 0
    while not engine.stopping:
        now = engine.clock.now_ms()
        limits = retention_limits(engine.settings, now)
        gone = await store.purge_step(limits, now, engine.settings.retention_step)
        if not gone:
            break
        removed += gone
        await asyncio.sleep(STEP_PAUSE_SECS)
    return removed


def _pause(every: float, first: bool) -> float:
    # The first look comes soon after start (a fraction of the period); later ones are
    # spread so that engines started together do not all ask at once.
    return every * (random.uniform(0.05, 0.2) if first else random.uniform(0.9, 1.1))
