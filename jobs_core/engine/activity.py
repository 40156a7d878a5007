"""Progress, status and log lines of running jobs: gathered for one group write, and kept
for the next write when one fails (a full disk), so none is lost."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from jobs_core.context import Activity, JobContext
from jobs_core.records import Job
from jobs_core.rules import Attempt
from jobs_core.store.protocol import ActivityUpdate

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("jobs.engine")


async def flush(engine: Engine, *, force: bool = False) -> None:
    """Write the running jobs' activity, at most every `progress_flush_secs` unless `force`
    (`force`: after the outcome or activity write under way, if any).

    Unforced (the dispatch loop's upkeep), it never waits for a write under way: the write
    is queued behind it in a task of its own. Waiting held the loop's next claim until each
    background write of outcomes ended, so that on PostgreSQL claims and writes took turns
    instead of overlapping (every write then held one claim's outcomes; `bench/pg_waits.py`
    measures what overlaps)."""
    if not force:
        if not engine._activity_pending:
            return
        if time.monotonic() - engine._last_activity_flush < engine.settings.progress_flush_secs:
            return
        if engine._writing.locked():
            _write_behind(engine)
            return
    elif not engine._activity_pending and not engine._writing.locked():
        return
    async with engine._writing:
        await _write(engine)


def _write_behind(engine: Engine) -> None:
    """Queue one activity write behind the write under way (the lock is first come, first
    served: `stop` and `run_until_idle`, which flush after it, wait for it too)."""
    task = engine._activity_task
    if task is None or task.done():
        engine._activity_task = asyncio.create_task(_written_behind(engine))


async def _written_behind(engine: Engine) -> None:
    try:
        async with engine._writing:
            await _write(engine)
    except Exception as error:
        # The activity is kept for the next write (`_write`); a store that keeps failing
        # is logged by the dispatch loop, whose outcome writes fail alike.
        log.debug("engine %s: writing progress and logs: %s", engine.id, error)


async def _write(engine: Engine) -> None:
    if not engine._activity_pending:
        return
    engine._activity_pending = False
    engine._last_activity_flush = time.monotonic()
    contexts = {i: r.ctx for i, r in engine.running.items()}
    taken = take_all(contexts)
    if not taken:
        return
    try:
        await engine.store.record_activity(updates(taken), engine.clock.now_ms())
    except BaseException:
        engine._activity_pending = True
        give_back(taken, {i: r.ctx for i, r in engine.running.items()}, engine._outcomes)
        raise


def take_all(contexts: Mapping[int, JobContext]) -> dict[int, Activity]:
    """The unwritten activity of each running job that has some, by job id."""
    taken: dict[int, Activity] = {}
    for job_id, ctx in contexts.items():
        activity = ctx.take_activity()
        if activity is not None:
            taken[job_id] = activity
    return taken


def updates(taken: Mapping[int, Activity]) -> list[ActivityUpdate]:
    return [
        ActivityUpdate(job_id=i, logs="".join(a.logs), progress=a.progress, status=a.status)
        for i, a in taken.items()
    ]


def give_back(
    taken: Mapping[int, Activity],
    contexts: Mapping[int, JobContext],
    outcomes: list[tuple[Job, Attempt]],
) -> None:
    """Return unwritten activity to its job, or to the job's pending outcome (whose final
    write carries its logs) if the job finished meanwhile."""
    for job_id, activity in taken.items():
        ctx = contexts.get(job_id)
        if ctx is not None:
            ctx.give_back(activity)
            continue
        for n, (job, attempt) in enumerate(outcomes):
            if job.id == job_id:
                logs = "".join(activity.logs) + attempt.logs
                outcomes[n] = (job, replace(attempt, logs=logs))
