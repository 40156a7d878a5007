"""What a producer and an engine in two processes do, counted in each (SQLite).

Usage: uv run python bench/pair_counts.py [--workload one|many|drain|batched] [--mixed]
       [--pace N] [--jobs N] [--durability NORMAL|FULL] [--sql]

`one`: one producer awaiting one enqueue per job (`peers.py`'s (a)), `--pace N` at most N
jobs/s (the regime of an engine that keeps up: claims of a few jobs); `many`: 100 concurrent
producers (its (b)); `drain`: the jobs enqueued in one `enqueue_many` while the engine runs;
`batched`: `throughput.py`'s end to end (`enqueue_many` of 500 at a time). `--mixed`: the
jobs of `throughput.py`'s mixed workload (5 queues, two limited, priorities, keys).
Both processes count (`_pair_instr.py`): claims, how many took jobs and how many came back
full (as many as the engine asked for), their median size
and CPU, outcome writes, write transactions and the wall time they held the lock, failed
`BEGIN IMMEDIATE`s and spins given up, page-cache hits and misses, the WAL's largest size,
checkpoints; per kind of write transaction (enqueue, claim, finish_and_claim, archive, ...)
how many, the CPU while holding the lock and the pages written; and the CPU µs a job of each
process. `--sql`: also the thread CPU of each statement the engine's loop connection runs.
Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import time
from typing import Any

import _pair_instr
from _common import cpu_secs, data_dir, final_line, print_table
from _engine_proc import build
from throughput import _batch, _mixed_batch, _mixed_setup, start_engine, stop_engine, wait_completed

from jobs_core import BackgroundJobs


async def produce(jobs: BackgroundJobs, args: argparse.Namespace) -> None:
    batch = _mixed_batch if args.mixed else _batch
    if args.workload == "drain":
        await jobs.enqueue_many(batch(0, args.jobs))
        return
    if args.workload == "batched":  # throughput.py's end to end: batches of 500
        for first in range(0, args.jobs, 500):
            await jobs.enqueue_many(batch(first, min(500, args.jobs - first)))
        return
    step = 100 if args.workload == "many" else 1
    began = time.perf_counter()

    async def producer(first: int) -> None:
        for i in range(first, args.jobs, step):
            await jobs.enqueue("noop", {"i": i})
            if args.pace and i % max(1, args.pace // 1000) == 0:  # bursts a ms apart
                await asyncio.sleep(max(0.0, began + (i + 1) / args.pace - time.perf_counter()))

    await asyncio.gather(*(producer(p) for p in range(step)))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with data_dir(None, "jobs-pair-") as directory:
        counts_path = os.path.join(directory, "engine-counts.json")
        os.environ["JOBS_BENCH_COUNTS"] = counts_path
        jobs = build(directory, args.durability)
        if args.mixed:
            await _mixed_setup(jobs)
        proc, _ = await start_engine(directory, args.durability)
        await asyncio.sleep(0.5)
        try:
            cpu = time.process_time(), cpu_secs(proc.pid)
            start = time.perf_counter()
            await produce(jobs, args)
            await wait_completed(jobs, args.jobs, proc)
            elapsed = time.perf_counter() - start
            producer_cpu = (time.process_time() - cpu[0]) / args.jobs * 1e6
            engine_cpu = (cpu_secs(proc.pid) - cpu[1]) / args.jobs * 1e6
        finally:
            await stop_engine(proc)
            await jobs.close()
        with open(counts_path) as counts:
            engine = json.load(counts)
    producer = _pair_instr.report()
    producer["cpu_us_a_job"], engine["cpu_us_a_job"] = producer_cpu, engine_cpu
    held = engine.pop("held")
    engine |= _late(engine.pop("waits"), _pair_instr.HELD)
    producer |= _late(_pair_instr.WAITS, held)
    return {"rate": args.jobs / elapsed, "producer": producer, "engine": engine}


def _late(waits: list[list[float]], other: list[list[float]]) -> dict[str, int]:
    """How long a process's writes that found the lock held waited after the other process
    let it go (the last release of the other's before the wait ended): the time lost to
    pausing between tries (`SqliteStore._retry_busy`)."""
    releases = sorted(end for _, end in other)
    late, n = 0.0, 0
    for began, got in waits:
        i = bisect.bisect_right(releases, got) - 1
        if i >= 0 and releases[i] >= began:
            late += got - releases[i]
            n += 1
    return {"waits_after_release": n, "late_after_release_us": round(late * 1e6)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="one", choices=["one", "many", "drain", "batched"])
    parser.add_argument("--mixed", action="store_true", help="throughput.py's mixed workload")
    parser.add_argument("--pace", type=int, default=0, help="with one: at most N jobs/s")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--durability", default="NORMAL", choices=["NORMAL", "FULL"])
    parser.add_argument("--sql", action="store_true", help="the engine's CPU per statement")
    args = parser.parse_args()
    if args.sql:
        os.environ["JOBS_BENCH_SQL"] = "1"
    _pair_instr.install()
    result = asyncio.run(run(args))
    keys = sorted(set(result["producer"]) | set(result["engine"]))
    rows = [[k, _shown(result["producer"].get(k)), _shown(result["engine"].get(k))] for k in keys]
    print(f"{args.workload}{f' at {args.pace}/s' if args.pace else ''}, {args.jobs:,} jobs: "
          f"{result['rate']:,.0f} jobs/s")  # fmt: skip
    print_table(["counter", "producer", "engine"], rows)
    final_line({"bench": "pair_counts", "workload": args.workload, "pace": args.pace,
                "jobs": args.jobs, **result})  # fmt: skip


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"


if __name__ == "__main__":
    main()
