"""One run of bench/per_job.py: an engine drains N queued no-op jobs on SQLite, in this
process, each step of its per-job path timed where it happens.

Usage: python bench/_per_job_run.py N [plain] (with PYTHONPATH naming the source tree to
measure); `plain` times the drain only, no step wrapped (what the wrappers cost).
Prints one JSON line: µs per job of each step (its wall time scaled by the run's CPU time over
its wall time), the process's CPU time and the drain's wall time per job, and up to the last
outcome written (before the last archive passes) the wall time and the loop thread's CPU time
per job.
The steps are wrapped where they are defined (store methods, engine functions), names that
exist in every revision compared; a step a revision lacks counts 0.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import throughput

from jobs_core import BackgroundJobs, EnqueueRequest
from jobs_core.context import JobContext
from jobs_core.engine import engine as engine_module
from jobs_core.engine import outcomes, runner
from jobs_core.store.sqlite.store import SqliteStore

SPENT: dict[str, int] = {}
"""Nanoseconds spent in each wrapped function, callees included."""

WRAPPED = [
    ("claim", SqliteStore, "claim"),
    ("start", engine_module.Engine, "_start"),
    ("context", JobContext, "__init__"),
    ("attempt", engine_module, "run_attempt"),
    ("handler", runner, "call_handler"),
    ("handler", runner, "handler_call"),
    ("prepare", BackgroundJobs, "_prepare"),
    ("outcome", outcomes, "_write"),
    ("decide", outcomes, "decide"),
    ("decide", outcomes, "succeeded"),
    ("decide", outcomes, "completion"),
    ("finish", SqliteStore, "finish"),
    ("finish and claim", SqliteStore, "finish_and_claim"),
    ("archive", SqliteStore, "archive_finished"),
]


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    clock = time.perf_counter_ns
    SPENT[name] = 0
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return await fn(*args, **kwargs)
            finally:
                SPENT[name] += clock() - t0

        return timed_async

    @functools.wraps(fn)
    def timed_sync(*args: Any, **kwargs: Any) -> Any:
        t0 = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name] += clock() - t0

    return timed_sync


def instrument() -> None:
    for name, owner, attr in WRAPPED:
        fn = getattr(owner, attr, None)
        if fn is not None:
            setattr(owner, attr, timed(name, fn))


def s_scaled(n: int, scale: float, name: str) -> float:
    return SPENT.get(name, 0) / n / 1000 * scale


def steps(n: int) -> dict[str, float]:
    """µs per job of each step, callees taken out of their callers."""
    s = {k: v / n / 1000 for k, v in SPENT.items()}
    return {
        "claim": s.get("claim", 0.0),
        "start": s.get("start", 0.0) - s.get("context", 0.0),
        "context": s.get("context", 0.0),
        "prepare": s.get("prepare", 0.0),
        "handler call": s.get("handler", 0.0),
        "attempt record": s.get("attempt", 0.0) - s.get("handler", 0.0) - s.get("prepare", 0.0),
        "outcome rules": s.get("decide", 0.0),
        "outcome write": s.get("finish", 0.0),
        "outcome other": s.get("outcome", 0.0)
        - s.get("decide", 0.0)
        - s.get("finish", 0.0)
        - s.get("finish and claim", 0.0),
        "claim and outcome write": s.get("finish and claim", 0.0),
        "archive": s.get("archive", 0.0),
    }


async def drain(
    n: int, directory: str, *, wrapped: bool = True, mixed: bool = False
) -> dict[str, float]:
    jobs = BackgroundJobs(directory)
    ran = [0]

    @jobs.command
    async def noop(req: dict[str, Any]) -> None:
        ran[0] += 1

    if mixed:
        await throughput._mixed_setup(jobs)
    for first in range(0, n, 1000):
        await jobs.enqueue_many(
            throughput._mixed_batch(first, 1000)
            if mixed
            else [
                EnqueueRequest(command="noop", request={"i": i}) for i in range(first, first + 1000)
            ]
        )
    await jobs.open()
    if wrapped:
        instrument()
    cpu0, t0, loop0 = time.process_time(), time.perf_counter(), time.thread_time()
    async with jobs:
        engine = jobs.engine
        while engine.processed < n:
            await asyncio.sleep(0.002)
        # Up to the last outcome written (throughput.py's drain): the loop thread's CPU
        # time, which bounds the rate on an idle machine when other threads work beside it.
        ran_wall, ran_loop = time.perf_counter() - t0, time.thread_time() - loop0
        # What the engine had not archived yet, as its next passes would.
        while await jobs.store.archive_finished(jobs.clock.now_ms(), 10_000):
            pass
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if ran[0] != n:
        raise SystemExit(f"ran {ran[0]} handlers, expected {n}")
    # A shared machine stretches every step's wall time by the share of the CPU this
    # process gets, each in proportion to its length: scaled by CPU / wall, the steps add up
    # to the CPU time per job and compare across runs at different loads.
    scale = cpu / wall
    result = {step: us * scale for step, us in steps(n).items()}
    result["loop and rest"] = cpu / n * 1e6 - sum(result.values())
    # The two writes together: one store call (`finish_and_claim`) where a tree has it.
    result["claim + outcome write"] = (
        result["claim"] + result["outcome write"] + s_scaled(n, scale, "finish and claim")
    )
    result["cpu"] = cpu / n * 1e6
    result["wall"] = wall / n * 1e6
    result["ran: wall"] = ran_wall / n * 1e6
    result["ran: loop cpu"] = ran_loop / n * 1e6
    return result


def _batch(first: int, size: int, mixed: bool) -> list[EnqueueRequest]:
    if mixed:
        return throughput._mixed_batch(first, size)
    return [EnqueueRequest(command="noop", request={"i": i}) for i in range(first, first + size)]


def main() -> None:
    n, wrapped, mixed = int(sys.argv[1]), sys.argv[2:3] != ["plain"], "mixed" in sys.argv[3:]
    directory = tempfile.mkdtemp(prefix="jobs-per-job-")
    try:
        print(json.dumps(asyncio.run(drain(n, directory, wrapped=wrapped, mixed=mixed))))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
