"""The sync API's cost: per-call overhead against the async facade, and N threads enqueueing.

Usage: uv run python bench/sync_api.py [--quick] [--dir PARENT]. Prints a table and a final
JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from typing import Any

from _common import data_dir, final_line, print_table

from jobs_core import BackgroundJobs, Settings


def build(directory: str) -> BackgroundJobs:
    jobs = BackgroundJobs(directory, settings=Settings())

    @jobs.command
    async def noop(req: dict[str, Any]) -> None:
        return None

    return jobs


def async_rate(parent: str | None, n: int) -> float:
    """Awaited enqueues per second on the caller's own loop (the baseline)."""

    async def run(directory: str) -> float:
        jobs = build(directory)
        await jobs.enqueue("noop", {"i": -1})
        start = time.perf_counter()
        for i in range(n):
            await jobs.enqueue("noop", {"i": i})
        elapsed = time.perf_counter() - start
        await jobs.close()
        return n / elapsed

    with data_dir(parent, "bench-sync-") as directory:
        return asyncio.run(run(directory))


def sync_rate(parent: str | None, n: int, threads: int) -> float:
    """Enqueues per second through `jobs.sync` from `threads` plain threads at once."""
    with data_dir(parent, "bench-sync-") as directory:
        jobs = build(directory)
        jobs.sync.enqueue("noop", {"i": -1})  # start the loop thread, open the store
        per_thread = n // threads
        barrier = threading.Barrier(threads + 1)

        def producer() -> None:
            barrier.wait()
            for i in range(per_thread):
                jobs.sync.enqueue("noop", {"i": i})

        workers = [threading.Thread(target=producer) for _ in range(threads)]
        for w in workers:
            w.start()
        barrier.wait()
        start = time.perf_counter()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - start
        jobs.sync.close()
        asyncio.run(jobs.close())
        return per_thread * threads / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke)")
    parser.add_argument("--dir", default=None, help="parent of the temporary data directories")
    args = parser.parse_args()
    n = 2000 if args.quick else 10_000
    baseline = async_rate(args.dir, n)
    single = sync_rate(args.dir, n, 1)
    rows: list[list[Any]] = [
        ["async enqueue, 1 task", baseline, 1e6 / baseline, ""],
        ["jobs.sync.enqueue, 1 thread", single, 1e6 / single, 1e6 / single - 1e6 / baseline],
    ]
    result: dict[str, Any] = {
        "async_per_s": baseline,
        "sync_1_thread_per_s": single,
        "sync_overhead_us": 1e6 / single - 1e6 / baseline,
    }
    for threads in (2, 4, 8, 16):
        rate = sync_rate(args.dir, n, threads)
        rows.append([f"jobs.sync.enqueue, {threads} threads", rate, 1e6 / rate, ""])
        result[f"sync_{threads}_threads_per_s"] = rate
    print_table(["case", "enqueues/s", "µs per enqueue", "overhead µs"], rows)
    final_line(result)


if __name__ == "__main__":
    main()
