"""An engine through a full disk, in a process of its own (the file-size limit that stands
in for the full disk is process-wide): `python -m tests.engine.full_disk_scenario DIR`.

Lowering RLIMIT_FSIZE makes every write past the limit fail as on a full disk (SQLite
reports "database or disk is full" or a disk I/O error), for every file of the process.
Prints one JSON object of what happened, for the test to judge.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import resource
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any

from jobs_core import BackgroundJobs, EnqueueRequest, JobContext, JobState, Settings, StoreError

SETTINGS = Settings(
    heartbeat_secs=0.1, lease_secs=10.0, retry_backoff_secs=0.0, poll_idle_secs=0.005,
    archive_secs=3600.0, progress_flush_secs=0.02,
)  # fmt: skip
"""Archiving waits (an hour) until the disk is full, so that it has jobs to write then."""
OUTAGE_SECS = 3.5
DUE_SECS = 3.0
"""The `due_during` jobs become due this long after the disk fills: after the archive pass
has failed (a claim failing first would end the loop's turns before archiving), and inside
the outage."""
GROUPS = {"quick": 20, "log_during": 10, "finish_during": 10, "due_during": 20}
"""Jobs done before the outage; running through it and logging in it; finishing in it
(once claims have failed); becoming due in it (DUE_SECS in)."""
HELD = GROUPS["log_during"] + GROUPS["finish_during"]
SPIED = (
    "enqueue", "claim", "finish", "finish_and_claim", "record_activity", "heartbeat",
    "archive_finished",
)  # fmt: skip
COUNTED_AS = {"finish_and_claim": "finish"}
"""An outcome write is counted as `finish` whether the engine claimed in it or not."""


class Records(logging.Handler):
    """Keeps every warning and error the library logs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


def disk_full(full: bool) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 if full else hard, hard))


async def until(predicate: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 30
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@dataclasses.dataclass
class Moments:
    """When the held jobs take their next steps."""

    outage: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    """The disk is full and the archive pass has failed: log a second step."""
    finish: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    """Activity writes and claims have failed: the finish_during jobs end."""
    after: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    """There is space again: the log_during jobs log a third step and end."""


def app(directory: str, executions: Counter[int], moments: Moments) -> BackgroundJobs:
    jobs = BackgroundJobs(directory, settings=SETTINGS)

    @jobs.command(retry_limit=0)  # a retry would hide a lost outcome: none may be needed
    async def work(req: dict[str, str], ctx: JobContext) -> int:
        executions[ctx.job.id] += 1
        ctx.log.info("first step")
        if req["group"] in ("log_during", "finish_during"):
            await moments.outage.wait()
            ctx.log.info("second step")
            ctx.progress(0.9)
        if req["group"] == "finish_during":
            await moments.finish.wait()
        elif req["group"] == "log_during":
            await moments.after.wait()
            ctx.log.info("third step")
        return ctx.job.id

    return jobs


async def main(directory: str) -> dict[str, Any]:
    records = Records()
    logging.getLogger("jobs").addHandler(records)
    executions: Counter[int] = Counter()
    moments = Moments()
    jobs = app(directory, executions, moments)
    calls, failures = spy(jobs, SPIED)

    async def counted(state: JobState, n: int) -> bool:
        return (await jobs.counts())[state] == n

    async with jobs:
        # The engine's first archive pass, at its start, must be over before jobs finish:
        # a slow one would archive the quick jobs while there is space.
        await until(partial(_seen, calls, "archive_finished"), "the first archive pass")
        ids: dict[str, list[int]] = {}
        for group in GROUPS:
            due = time.monotonic() + DUE_SECS  # the due_during jobs' earliest due time
            ids[group] = await enqueue(jobs, group)
            if group == "quick":
                await until(lambda: counted(JobState.COMPLETED, GROUPS["quick"]), "quick jobs")
            elif group == "finish_during":
                await until(lambda: counted(JobState.STARTED, HELD), "held jobs running")
                # Their first step is written while there is space: activity not yet
                # written would fail before the archive pass is reached.
                held = ids["log_during"] + ids["finish_during"]
                await until(partial(_logged, jobs, held, "first step"), "held jobs' first step")

        cpu = time.process_time()
        disk_full(True)
        # Archiving first, while nothing else fails: the engine's other writes failing
        # would end its loop's turns before archiving.
        jobs.engine.settings = dataclasses.replace(SETTINGS, archive_secs=0.05)
        await until(lambda: _month_failing(jobs), "the month file failing")
        if time.monotonic() >= due:
            raise AssertionError("the archive pass failed only after the due_during jobs were due")
        month_errors = [m.error for m in await jobs.months()]
        try:
            await jobs.enqueue("work", {"group": "quick"})
            refused = ""
        except StoreError as error:
            refused = str(error)
        moments.outage.set()
        outage_ends = time.monotonic() + OUTAGE_SECS
        # In this order, as each failure ends the loop's turn before the next write: the
        # engine flushes outcomes first, then claims, then writes activity. Claims fail only
        # once the due_during jobs are due (a claim with nothing ready writes nothing).
        await until(partial(_seen, failures, "record_activity"), "an activity write failing")
        await until(partial(_seen, failures, "claim"), "a claim of the due_during jobs failing")
        moments.finish.set()
        await until(partial(_seen, failures, "finish"), "an outcome write failing")
        await asyncio.sleep(max(0.0, outage_ends - time.monotonic()))
        during = (await jobs.counts())[JobState.COMPLETED]
        cpu_during = time.process_time() - cpu
        disk_full(False)
        moments.after.set()

        total = sum(GROUPS.values())
        await until(lambda: counted(JobState.COMPLETED, total), "every job completed")
        await until(lambda: _archived(jobs, total), "every job archived")
        results = {g: [await jobs.get_job(i) for i in group] for g, group in ids.items()}
    return {
        "refused": refused,
        "completed_during_outage": during,
        "cpu_secs_during_outage": cpu_during,
        "executions": sorted(executions.items()),
        "ids": sorted(i for group in ids.values() for i in group),
        "states": {g: [r.state.value for r in rs] for g, rs in results.items()},
        "logs": {g: [r.job.logs if r.job else None for r in rs] for g, rs in results.items()},
        "log": records.lines,
        "failures": failures,
        "month_errors_during_outage": month_errors,
    }


async def enqueue(jobs: BackgroundJobs, group: str) -> list[int]:
    delay = timedelta(seconds=DUE_SECS) if group == "due_during" else None
    request = EnqueueRequest(command="work", request={"group": group}, run_after=delay)
    return [ref.id for ref in await jobs.enqueue_many([request] * GROUPS[group])]


def spy(jobs: BackgroundJobs, names: tuple[str, ...]) -> tuple[Counter[str], Counter[str]]:
    """Count the calls of each of the store's methods `names` that returned, and the
    StoreErrors each raised."""
    calls: Counter[str] = Counter()
    failures: Counter[str] = Counter()

    def wrap(name: str) -> Callable[..., Awaitable[Any]]:
        real = getattr(jobs.store, name)
        name = COUNTED_AS.get(name, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                result = await real(*args, **kwargs)
            except StoreError:
                failures[name] += 1
                raise
            calls[name] += 1
            return result

        return counted

    for name in names:
        setattr(jobs.store, name, wrap(name))
    return calls, failures


async def _logged(jobs: BackgroundJobs, ids: list[int], text: str) -> bool:
    for job_id in ids:
        result = await jobs.get_job(job_id)
        if result.job is None or text not in (result.job.logs or ""):
            return False
    return True


async def _seen(counter: Counter[str], name: str) -> bool:
    return counter[name] > 0


async def _month_failing(jobs: BackgroundJobs) -> bool:
    return any(m.error for m in await jobs.months())


async def _archived(jobs: BackgroundJobs, total: int) -> bool:
    months = await jobs.months()
    if len(months) != 1 or months[0].error:
        return False
    page = await jobs.list_completed(months[0].month, limit=total + 1)
    return len(page.items) == total


if __name__ == "__main__":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, do not kill the process
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
