"""CPU per job of the PostgreSQL store's hot path (enqueue, claim, finish), the client's and
the server's apart, this tree against another revision, runs alternated.

Usage: uv run python bench/pg_store_cpu.py [--base REV] [--store pg|URL] [--rounds 5]
       [--jobs 20000] [--batch 100] [--mixed | --both]

Each run enqueues --jobs no-op jobs into a fresh schema in batches of 500 (as
`enqueue_many` does), then claims them --batch at a time as the engine does and finishes
each claim as completed. No engine, handler or event loop of an engine is involved: what a
change to the store's SQL or its parameters costs a job, without `pg_cpu.py`'s end-to-end
noise. The server's CPU is read from /proc/PID/schedstat (nanoseconds, not clock ticks) of
every process of the server (its backends and background processes), so the server must
run on this machine; the client's is this process's CPU time. The least of --rounds runs
per figure. `--mixed`: `throughput.py`'s mixed workload (5 queues, two with a concurrency
limit of 50, priorities 0-3, a concurrency key from 2,000 users on one job in five) instead
of the default queue; `--both`: the default queue and the mixed workload of each tree, runs
alternated, with mixed / plain per phase. Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from typing import Any

import asyncpg
from _common import extract_revision, final_line, print_table, rotated
from _stores import Stores
from pg_cpu import run_in

PHASES = ("enqueue", "claim", "finish")
SIDES = ("client", "server")
NOW = 1_764_000_000_000
OWNER = "host-1234567:12345:abcdef12"


def server_ns(pids: list[int]) -> int:
    """CPU time (ns) the processes `pids` have used so far (gone ones count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except FileNotFoundError:
            pass
    return total


async def server_processes(conn: Any) -> list[int]:
    """The postmaster's children: every backend and background process of the server."""
    backend = await conn.fetchval("SELECT pg_backend_pid()")
    with open(f"/proc/{backend}/stat") as stat:
        postmaster = int(stat.read().rsplit(")", 1)[1].split()[1])
    with open(f"/proc/{postmaster}/task/{postmaster}/children") as children:
        return [int(pid) for pid in children.read().split()]


class Meter:
    """Client and server CPU per phase."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.ns = {f"{p}_{s}": 0 for p in PHASES for s in SIDES}

    async def run(self, phase: str, work: Any) -> Any:
        server0 = server_ns(self.pids)
        client0 = time.process_time_ns()
        result = await work
        self.ns[f"{phase}_client"] += time.process_time_ns() - client0
        self.ns[f"{phase}_server"] += server_ns(self.pids) - server0
        return result


MIXED_QUEUES = ("mail", "billing", "reports", "media", "webhooks")


async def one_run(url: str, n: int, batch: int, mixed: bool) -> dict[str, float]:
    from jobs_core.records import JobState
    from jobs_core.store.postgres.store import PostgresStore
    from jobs_core.store.protocol import NewJob, QueueChange, Transition
    from jobs_core.store.url import parse_store_url

    store = PostgresStore(url)
    await store.open()
    if mixed:
        for name in MIXED_QUEUES[:2]:
            await store.set_queue(name, QueueChange(concurrency=50), NOW)
    # The month's partitions and both pools (the engine's too) before the clock starts.
    await store.enqueue([_job(NewJob, -1)], NOW)
    warm = await store.claim(owner=OWNER, commands=["noop"], named=False, limit=1, now=NOW)
    await store.finish([_completed(Transition, JobState, j.id) for j in warm], [], NOW)
    conn = await asyncpg.connect(parse_store_url(url).dsn)
    try:
        meter = Meter(await server_processes(conn))
    finally:
        await conn.close()
    for first in range(0, n, 500):
        jobs = [_job(NewJob, i, mixed) for i in range(first, min(n, first + 500))]
        await meter.run("enqueue", store.enqueue(jobs, NOW))
    done = 0
    while done < n:
        claim = store.claim(owner=OWNER, commands=["noop"], named=False, limit=batch, now=NOW)
        claimed = await meter.run("claim", claim)
        if not claimed:
            raise SystemExit(f"a claim found nothing with {n - done} jobs left")
        done += len(claimed)
        transitions = [_completed(Transition, JobState, j.id) for j in claimed]
        await meter.run("finish", store.finish(transitions, [], NOW))
    await store.close()
    return {key: ns / n / 1e3 for key, ns in meter.ns.items()}


def _job(new_job: Any, i: int, mixed: bool = False) -> Any:
    flow: dict[str, Any] = {}
    if mixed:  # as throughput._mixed_batch
        flow = dict(
            queue=MIXED_QUEUES[i % 5], priority=(i * 7) % 4,
            concurrency_key=f"user:{i % 2000}" if i % 10 < 2 else None,
        )  # fmt: skip
    return new_job(
        command="noop", request_type="dict", request_body=f'{{"i": {i}}}', worker="",
        run_after=NOW, retry_limit=2, timeout_secs=600.0, **flow,
    )  # fmt: skip


def _completed(transition: Any, state: Any, job_id: int) -> Any:
    return transition(
        job_id=job_id, state=state.COMPLETED, owner_guard=OWNER, duration_ms=1,
        response_type="NoneType", response_body="null",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="pg", metavar="pg|URL")
    parser.add_argument("--base", help="a revision to compare with, runs alternating")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100, help="jobs per claim and finish")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--mixed", action="store_true", help="the mixed flow-control workload")
    kind.add_argument("--both", action="store_true", help="default queue and mixed, alternated")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        url, n, batch = args.one
        print(json.dumps(asyncio.run(one_run(url, int(n), int(batch), args.mixed))))
        return
    kinds = (
        {"plain": (), "mixed": ("--mixed",)}
        if args.both
        else {"mixed" if args.mixed else "plain": ("--mixed",) if args.mixed else ()}
    )
    stores = Stores(args.store, None)
    runs: dict[str, list[dict[str, float]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="jobs-pg-store-cpu-") as base_tree:
            trees: dict[str, str | None] = {"this tree": None}
            if args.base:
                extract_revision(args.base, base_tree)
                trees = {args.base: base_tree, **trees}
            variants = {
                f"{tree} {kind}": (path, extra)
                for tree, path in trees.items()
                for kind, extra in kinds.items()
            }
            runs = {name: [] for name in variants}
            for r in range(args.rounds):
                for name in rotated(list(variants), r):
                    path, extra = variants[name]
                    with stores.fresh("pg-store-cpu-", "FULL") as url:
                        runs[name].append(run_in(path, url, args.jobs, args.batch, __file__, extra))
                    total = sum(runs[name][-1].values())
                    print(f"round {r + 1} {name}: {total:.1f} µs/job", flush=True)
        where = stores.describe()
    finally:
        stores.close()
    report(args, runs, where)


def report(args: argparse.Namespace, runs: dict[str, list[dict[str, float]]], where: str) -> None:
    """The least of the runs per variant and phase; with `--both`, plain / mixed of each tree
    (client and server CPU summed)."""
    best = {name: {k: min(d[k] for d in done) for k in done[0]} for name, done in runs.items()}
    for figures in best.values():
        for side in SIDES:
            figures[f"total_{side}"] = sum(figures[f"{p}_{side}"] for p in PHASES)
    rows = [
        [name, phase, *(f"{figures[f'{phase}_{side}']:.2f}" for side in SIDES)]
        for name, figures in best.items()
        for phase in (*PHASES, "total")
    ]
    print(
        f"CPU µs per job, {args.jobs:,} no-op jobs, claims and finishes of {args.batch}, "
        f"the least of {args.rounds} runs, {where}"
    )
    print_table(["variant", "phase", "client µs", "server µs"], rows)
    ratios = {}
    for name in best:
        if name.endswith(" mixed") and (plain := best.get(name[: -len("mixed")] + "plain")):
            both = sum(plain[f"total_{s}"] for s in SIDES)
            ratios[name[: -len(" mixed")]] = both / sum(best[name][f"total_{s}"] for s in SIDES)
    for tree, ratio in ratios.items():
        print(f"{tree}: plain / mixed CPU a job {ratio:.3f}")
    final_line(
        {"bench": "pg_store_cpu", "base": args.base, "batch": args.batch, **best,
         "plain_over_mixed": ratios}
    )  # fmt: skip


if __name__ == "__main__":
    main()
