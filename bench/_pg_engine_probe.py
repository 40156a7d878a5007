"""`_engine_proc.py` with the store's calls timed: each call's name, start, end (perf_counter
seconds, CLOCK_MONOTONIC: comparable across processes), jobs in and out, and the engine's
running jobs when it began. Written as JSON lines to the path in JOBS_BENCH_TIMELINE at exit.

Usage: python bench/_pg_engine_probe.py URL NORMAL|FULL (the environment names the file).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from _engine_proc import RAN, build

TIMED = ("claim", "finish", "next_due", "archive_finished", "heartbeat", "cancel_requested",
         "record_activity", "expire_due")  # fmt: skip


def _count(value: Any) -> int:
    if isinstance(value, list):
        return len(value)
    applied = getattr(value, "applied", None)
    return len(applied) if isinstance(applied, list) else int(isinstance(value, int) and value)


def timed(store: Any, name: str, log: list[tuple[Any, ...]], running: Callable[[], int]) -> None:
    inner = getattr(store, name)

    async def call(*args: Any, **kwargs: Any) -> Any:
        n_in = len(args[0]) if args and isinstance(args[0], list) else kwargs.get("limit", 0)
        busy = running()
        start = time.perf_counter()
        result = await inner(*args, **kwargs)
        log.append((name, start, time.perf_counter(), n_in, _count(result), busy, store.change_token()))
        return result

    setattr(store, name, call)


async def serve(url: str, durability: str, path: str) -> None:
    jobs = build(url, durability)
    log: list[tuple[Any, ...]] = []
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    def running() -> int:
        engine = jobs._engine  # noqa: SLF001 (a probe)
        return len(engine.running) if engine is not None else -1

    for name in TIMED:
        timed(jobs.store, name, log, running)
    print(f"ready {time.time():.6f}", flush=True)
    async with jobs:
        await stop.wait()
    with open(path, "w") as out:
        for row in log:
            out.write(json.dumps(row) + "\n")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"usage user {usage.ru_utime:.3f} sys {usage.ru_stime:.3f} "
          f"voluntary {usage.ru_nvcsw} involuntary {usage.ru_nivcsw}", file=sys.stderr)
    print(f"ran {RAN[0]}", flush=True)


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2], os.environ["JOBS_BENCH_TIMELINE"]))
