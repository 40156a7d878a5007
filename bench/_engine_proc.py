"""An engine in its own process for the cross-process benchmarks: runs until SIGTERM.

Usage: python bench/_engine_proc.py DIR NORMAL|FULL. Prints "ready <epoch seconds>" just
before the engine starts, and at exit "ran <count>": how many `noop` and `stamp` handlers ran
in this process (the benchmarks check that exactly the jobs they enqueued ran). With
JOBS_BENCH_PROFILE=PATH it writes cProfile stats to PATH; with JOBS_BENCH_COUNTS=PATH, the
counters of `_pair_instr.py` as JSON (`pair_counts.py`).
JOBS_BENCH_DONE_AT=N: print "done <epoch seconds>" when the N-th `noop` handler has run (as
`pg_peers.py`'s PgQueuer consumer does). JOBS_BENCH_CONCURRENCY, JOBS_BENCH_CLAIM_BATCH: the
engine's settings of those names. JOBS_BENCH_TELEMETRY=off|api|sdk: no telemetry, the API
without an SDK (the default when `opentelemetry-api` is installed), or SDK providers without
exporters.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import signal
import sys
import time
from typing import Any

from jobs_core import BackgroundJobs, Durability, Settings

RAN = [0]
"""Handlers of the benchmark commands that ran in this process."""


def build(directory: str, durability: str) -> BackgroundJobs:
    """The store with the benchmark commands registered."""
    tuning = {
        name: int(os.environ[f"JOBS_BENCH_{name.upper()}"])
        for name in ("concurrency", "claim_batch")
        if os.environ.get(f"JOBS_BENCH_{name.upper()}")
    }
    settings = Settings(durability=Durability(durability), **tuning)
    jobs = BackgroundJobs(directory, settings=settings)
    telemetry_mode(jobs, os.environ.get("JOBS_BENCH_TELEMETRY", "api"))

    done_at = int(os.environ.get("JOBS_BENCH_DONE_AT", "0"))

    @jobs.command
    async def noop(req: dict[str, Any]) -> None:
        RAN[0] += 1
        if RAN[0] == done_at:
            print(f"done {time.time():.6f}", flush=True)

    @jobs.command
    async def stamp(req: dict[str, Any]) -> dict[str, int]:
        RAN[0] += 1
        return {"lat_ns": time.time_ns() - req["sent_ns"]}

    return jobs


def telemetry_mode(jobs: BackgroundJobs, mode: str) -> None:
    if mode == "off":
        jobs.telemetry = None
        return
    from jobs_core.telemetry import Telemetry

    if mode == "api":
        jobs.telemetry = Telemetry()
    elif mode in ("sdk", "export"):
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
        from opentelemetry.sdk.trace.export import SpanExportResult as Result

        tracer_provider = TracerProvider()
        readers = []
        if mode == "export":  # spans handed to an exporter that drops them, metrics read

            class Dropping(SpanExporter):
                def export(self, spans: object) -> Result:
                    return Result.SUCCESS

            tracer_provider.add_span_processor(SimpleSpanProcessor(Dropping()))
            readers.append(InMemoryMetricReader())
        jobs.telemetry = Telemetry(
            tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=readers)
        )
    else:
        raise SystemExit(f"JOBS_BENCH_TELEMETRY: unknown mode {mode!r} (off, api, sdk, export)")


async def serve(directory: str, durability: str) -> None:
    jobs = build(directory, durability)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"ready {time.time():.6f}", flush=True)
    async with jobs:
        await stop.wait()
    print(f"ran {RAN[0]}", flush=True)


def main() -> None:
    directory, durability = sys.argv[1], sys.argv[2]
    counts_path = os.environ.get("JOBS_BENCH_COUNTS")
    if counts_path:
        import _pair_instr

        _pair_instr.install()
    profile_path = os.environ.get("JOBS_BENCH_PROFILE")
    if not profile_path:
        asyncio.run(serve(directory, durability))
        if counts_path:
            _pair_instr.dump(counts_path)
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(serve(directory, durability))
    finally:
        profiler.disable()
        profiler.dump_stats(profile_path)


if __name__ == "__main__":
    main()
