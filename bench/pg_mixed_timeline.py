"""Where the engine's wall time goes in `throughput.py`'s end to end on PostgreSQL, the
default queue against the mixed workload, runs alternated.

Usage: uv run python bench/pg_mixed_timeline.py [--store pg|URL] [--runs 3] [--jobs 10000]

The producer (this process) enqueues `--jobs` jobs with `enqueue_many` in batches of 500, as
`throughput.py` does (NORMAL: commits do not wait for the WAL flush); an engine in a child
process (`_pg_engine_probe.py`) times each of its store's calls. Printed per run: jobs/s,
the claims (full, partial, empty; the empty ones split by whether the producer was still
enqueueing), their wall time, the outcome writes, `next_due` probes, and the tail: how long
the last 10% of the jobs took to be claimed, as a share of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from typing import Any

from _common import final_line, print_table
from _engine_proc import build
from _stores import Stores
from pg_waits import start_probe
from throughput import (
    _batch,
    _mixed_batch,
    _mixed_setup,
    stop_engine,
    tail_ids,
    wait_completed,
)

BATCH = 500
LIMITED = {"mail", "billing"}


async def one_run(url: str, n: int, mixed: bool) -> dict[str, Any]:
    timeline = tempfile.mktemp(prefix="jobs-timeline-")
    jobs = build(url, "NORMAL")
    if mixed:
        await _mixed_setup(jobs)
    await jobs.open()
    proc = await start_probe(url, timeline)
    await asyncio.sleep(0.5)  # as throughput.py: the engine registers and reaches its loop
    make = _mixed_batch if mixed else _batch
    try:
        t0 = time.perf_counter()
        last: list[int] = []
        for first in range(0, n, BATCH):
            requests = make(first, BATCH)
            last = tail_ids(requests, await jobs.enqueue_many(requests))
        produced = time.perf_counter()
        await wait_completed(jobs, n, proc, last)
        t1 = time.perf_counter()
    finally:
        await stop_engine(proc)
        await jobs.close()
    with open(timeline) as f:
        calls = [json.loads(line) for line in f]
    os.unlink(timeline)
    return summarise(calls, n, t0, produced, t1)


def summarise(calls: list[list[Any]], n: int, t0: float, produced: float, t1: float) -> dict:
    inside = [c for c in calls if c[2] >= t0 and c[1] <= t1]
    claims = [c for c in inside if c[0] == "claim"]
    finishes = [c for c in inside if c[0] == "finish"]
    due = [c for c in inside if c[0] == "next_due"]
    full = [c for c in claims if c[4] and c[4] == c[3]]
    empty = [c for c in claims if not c[4]]
    claimed, tail_start = 0, t1
    for c in sorted(claims, key=lambda c: c[2]):
        claimed += c[4]
        if claimed >= 0.9 * n:
            tail_start = c[2]
            break
    last_claim = max((c[2] for c in claims if c[4]), default=t1)
    tail_claims = [c for c in claims if c[1] >= tail_start]
    others = [c[2] for c in claims if set(c[5]) - LIMITED]
    last_other = max(others, default=t1)
    after = [c for c in claims if c[1] >= last_other]

    def ms(cs: list[list[Any]]) -> float:
        return sum(c[2] - c[1] for c in cs) * 1e3

    def p50(cs: list[list[Any]]) -> float:
        return statistics.median([(c[2] - c[1]) * 1e3 for c in cs]) if cs else 0.0

    return {
        "jobs_per_s": n / (t1 - t0),
        "wall_ms": (t1 - t0) * 1e3,
        "produced_ms": (produced - t0) * 1e3,
        "claims": len(claims),
        "full": len(full),
        "empty": len(empty),
        "empty_while_producing": sum(1 for c in empty if c[2] <= produced),
        "claim_ms": ms(claims),
        "full_p50_ms": p50(full),
        "empty_p50_ms": p50(empty),
        "finishes": len(finishes),
        "finish_ms": ms(finishes),
        "finish_p50_ms": p50(finishes),
        "next_due": len(due),
        "next_due_ms": ms(due),
        "tail_share": (t1 - tail_start) / (t1 - t0),
        "tail_claims": len(tail_claims),
        "tail_empty": sum(1 for c in tail_claims if not c[4]),
        "after_last_claim_ms": (t1 - last_claim) * 1e3,
        "limited_after": sum(c[4] for c in after),
        "limited_after_share": (t1 - last_other) / (t1 - t0),
        "limited_after_claims": len(after),
        "trace": [
            [round((c[1] - t0) * 1e3, 2), round((c[2] - t0) * 1e3, 2), c[0], c[4], c[5]]
            for c in inside
            if c[1] >= tail_start
        ],
    }


FIELDS = [
    ("jobs_per_s", "jobs/s", "{:,.0f}"), ("wall_ms", "wall ms", "{:.0f}"),
    ("produced_ms", "enqueued by ms", "{:.0f}"), ("claims", "claims", "{}"),
    ("full", "full", "{}"), ("empty", "empty", "{}"),
    ("empty_while_producing", "empty, producer busy", "{}"),
    ("claim_ms", "ms in claims", "{:.0f}"), ("full_p50_ms", "full claim p50 ms", "{:.2f}"),
    ("empty_p50_ms", "empty claim p50 ms", "{:.2f}"), ("finishes", "outcome writes", "{}"),
    ("finish_ms", "ms in writes", "{:.0f}"), ("finish_p50_ms", "write p50 ms", "{:.2f}"),
    ("next_due", "next_due calls", "{}"), ("next_due_ms", "ms in next_due", "{:.0f}"),
    ("tail_share", "last 10% claimed: share of run", "{:.0%}"),
    ("tail_claims", "  claims in it", "{}"), ("tail_empty", "  empty", "{}"),
    ("after_last_claim_ms", "ms after the last claim", "{:.1f}"),
    ("limited_after", "jobs claimed after the last of other queues", "{}"),
    ("limited_after_share", "  share of run", "{:.0%}"),
    ("limited_after_claims", "  claims", "{}"),
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="pg", metavar="pg|URL")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--trace", action="store_true", help="print the last 10%% call by call")
    args = parser.parse_args()
    stores = Stores(args.store, None)
    results: dict[str, list[dict[str, Any]]] = {"plain": [], "mixed": []}
    try:
        for _ in range(args.runs):
            for kind in results:
                with stores.fresh("timeline", "NORMAL") as url:
                    results[kind].append(asyncio.run(one_run(url, args.jobs, kind == "mixed")))
    finally:
        stores.close()
    header = ["", *(f"{k} {i + 1}" for k in results for i in range(args.runs))]
    rows = [
        (label, *(fmt.format(r[key]) for k in results for r in results[k]))
        for key, label, fmt in FIELDS
    ]
    print_table(header, rows)
    if args.trace:
        for kind in results:
            print(f"\n{kind}, run 1: the last 10% (start ms, end ms, call, jobs, queues)")
            for row in results[kind][0]["trace"]:
                print("  ", *row)
    for kind in results:
        for r in results[kind]:
            del r["trace"]
    final_line({"bench": "pg_mixed_timeline", **results})


if __name__ == "__main__":
    main()
