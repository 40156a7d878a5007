"""`_engine_proc.py` with its store's calls timed, for `pg_waits.py`: each call's name,
start and end (`time.perf_counter()`, CLOCK_MONOTONIC on Linux: comparable across
processes), the jobs it was given and the jobs it returned. Written as JSON lines to the path
in JOBS_BENCH_TIMELINE when the engine stops; its process's user and system CPU, and
context switches, go to stderr. With JOBS_BENCH_PROFILE=PATH it writes cProfile stats there.

Usage: python bench/_pg_engine_probe.py URL NORMAL|FULL
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import sys
import time
from collections import Counter
from typing import Any

from _engine_proc import RAN, build

TIMED = ("claim", "finish", "next_due", "archive_finished", "heartbeat", "cancel_requested",
         "record_activity", "expire_due")  # fmt: skip

Call = tuple[str, float, float, int, int, dict[str, int]]
"""(name, start, end, jobs given, jobs returned, jobs returned by queue)."""


def _count(value: Any) -> int:
    if isinstance(value, list):
        return len(value)
    applied = getattr(value, "applied", None)  # a FinishResult
    return len(applied) if isinstance(applied, list) else 0


def timed(store: Any, name: str, log: list[Call]) -> None:
    """Replace `store.name` by a wrapper that appends each call to `log`."""
    inner = getattr(store, name)

    async def call(*args: Any, **kwargs: Any) -> Any:
        given = len(args[0]) if args and isinstance(args[0], list) else kwargs.get("limit", 0)
        label = "claim named" if name == "claim" and kwargs.get("named") else name
        start = time.perf_counter()
        result = await inner(*args, **kwargs)
        queues = Counter(j.queue for j in result) if name == "claim" else {}
        log.append((label, start, time.perf_counter(), given, _count(result), dict(queues)))
        return result

    setattr(store, name, call)


async def serve(url: str, durability: str, path: str) -> None:
    jobs = build(url, durability)
    log: list[Call] = []
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    for name in TIMED:
        timed(jobs.store, name, log)
    print(f"ready {time.time():.6f}", flush=True)
    async with jobs:
        await stop.wait()
    with open(path, "w") as out:
        out.writelines(json.dumps(row) + "\n" for row in log)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"engine process: user {usage.ru_utime:.3f} s, system {usage.ru_stime:.3f} s, "
          f"context switches {usage.ru_nvcsw} voluntary, {usage.ru_nivcsw} involuntary",
          file=sys.stderr)  # fmt: skip
    print(f"ran {RAN[0]}", flush=True)


def main() -> None:
    run = serve(sys.argv[1], sys.argv[2], os.environ["JOBS_BENCH_TIMELINE"])
    profile = os.environ.get("JOBS_BENCH_PROFILE")
    if not profile:
        asyncio.run(run)
        return
    import cProfile

    with cProfile.Profile() as profiler:
        asyncio.run(run)
    profiler.dump_stats(profile)


if __name__ == "__main__":
    main()
