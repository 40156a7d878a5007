"""`throughput.py`'s end to end (producer and engine in two processes, `enqueue_many` of 500)
with each part of the mixed flow-control workload alone, rounds alternated.

Usage: uv run python bench/mixed_e2e_parts.py [--quick] [--rounds 7] [--jobs 10000]
       [--only plain,queues,keys,priorities,queues+priorities,mixed]

`plain`: the default queue (the denominator of `throughput.py --mixed-only`); `queues`: the
jobs spread over its 5 queues; `keys`: + a concurrency key on one job in five; `priorities`:
the default queue with priorities 0-3; `queues+priorities`; `mixed`: all three (its
workload). Every variant but `plain` sets the mixed workload's two queue limits. Each round
runs every variant once, in turn; the table gives each one's median jobs/s and its ratio to
`plain`'s. Prints per-round lines, a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import Callable

import throughput
from _common import final_line, median, print_table

from jobs_core import EnqueueRequest

Batch = Callable[[int, int], list[EnqueueRequest]]


def batch_of(queues: bool, keys: bool, priorities: bool) -> Batch:
    def batch(first: int, size: int) -> list[EnqueueRequest]:
        return [
            EnqueueRequest(
                command="noop", request={"i": i},
                queue=throughput.MIXED_QUEUES[i % 5] if queues else "default",
                priority=(i * 7) % 4 if priorities else 0,
                concurrency_key=(
                    f"user:{i % throughput.MIXED_USERS}" if keys and i % 10 < 2 else None
                ),
            )
            for i in range(first, first + size)
        ]  # fmt: skip

    return batch


VARIANTS: dict[str, Batch | None] = {
    "plain": None,
    "queues": batch_of(queues=True, keys=False, priorities=False),
    "keys": batch_of(queues=True, keys=True, priorities=False),
    "priorities": batch_of(queues=False, keys=False, priorities=True),
    "queues+priorities": batch_of(queues=True, keys=False, priorities=True),
    "mixed": batch_of(queues=True, keys=True, priorities=True),
}


async def run(args: argparse.Namespace) -> dict[str, list[float]]:
    names = args.only.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or "plain" not in names:
        raise SystemExit(f"--only: 'plain' and any of {', '.join(VARIANTS)}; got {args.only!r}")
    base = throughput.config(argparse.Namespace(quick=False, runs=1, store=None, dir=None))
    cfg = dataclasses.replace(base, e2e_n=args.jobs)
    rates: dict[str, list[float]] = {n: [] for n in names}
    for round_ in range(1, args.rounds + 1):
        line = []
        for name in names:
            batch = VARIANTS[name]
            if batch is None:
                rate, _ = await throughput.end_to_end(cfg, "NORMAL")
            else:
                throughput._mixed_batch = batch  # what `end_to_end(mixed=True)` enqueues
                rate, _ = await throughput.end_to_end(cfg, "NORMAL", mixed=True)
            rates[name].append(rate)
            line.append(f"{name} {rate:,.0f}")
        print(f"round {round_}: " + ", ".join(line), flush=True)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--only", default=",".join(VARIANTS))
    parser.add_argument("--quick", action="store_true", help="one round of 2,000 jobs (smoke)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.jobs = 1, 2000
    rates = asyncio.run(run(args))
    plain = median(rates["plain"])
    rows = [[name, f"{median(r):,.0f}", f"{median(r) / plain:.3f}"] for name, r in rates.items()]
    print(f"end to end jobs/s, median of {args.rounds} alternated rounds of {args.jobs:,} jobs")
    print_table(["variant", "jobs/s", "/ plain"], rows)
    final_line(
        {"bench": "mixed_e2e_parts", "jobs": args.jobs, "rounds": args.rounds,
         "jobs_per_s": {n: median(r) for n, r in rates.items()},
         "vs_plain": {n: median(r) / plain for n, r in rates.items()}}
    )  # fmt: skip


if __name__ == "__main__":
    main()
