"""Where the CPU goes per job on PostgreSQL, end to end: the producer, the engine's process and
the server's processes (every backend and background process, those that start or end
during the run included: `_pg_procs.py`; read from /proc, so the server must run on this
machine, and with `--store URL` nothing else should use that server meanwhile), in µs of CPU
per job.

Usage: uv run python bench/pg_cpu.py [--base REV] [--store pg|URL] [--rounds 3] [--quick]
[--mode single|batched|mixed]

Two modes, as in `pg_peers.py`: one awaited `enqueue` per job (2,000 jobs), and
`enqueue_many` in batches of 500 (20,000 jobs), the engine in a child process (`--mode
mixed`: the batched mode with `throughput.py`'s mixed workload, 5 queues, two limited,
priorities, keys). CPU time is
what a shared machine cannot stretch (a wall-clock rate halves when other work runs; the CPU
a job costs does not), so this is the figure to compare revisions with; the jobs/s column is
the wall-clock rate of the same run. Medians of `--rounds` runs; with `--base REV` the
revision (extracted with `git archive`, its `jobs_core` imported in place of this tree's,
the benchmark's own code this tree's) runs too, the two alternating in every round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import asyncpg
from _common import cpu_secs, extract_revision, final_line, median, print_table, rotated
from _engine_proc import build
from _pg_procs import postmaster_pid, server_cpu
from _stores import Stores
from throughput import (
    _mixed_batch,
    _mixed_setup,
    start_engine,
    stop_engine,
    tail_ids,
    wait_completed,
)

from jobs_core import EnqueueRequest
from jobs_core.store.url import parse_store_url

MODES = {"single": (2_000, 1), "batched": (20_000, 500), "mixed": (20_000, 500)}
DEFAULT_MODES = ["single", "batched"]
"""`mixed` (only when asked): `batched` with `throughput.py`'s mixed flow-control workload."""


async def postmaster(url: str) -> int:
    conn = await asyncpg.connect(parse_store_url(url).dsn)
    try:
        return await postmaster_pid(conn)
    finally:
        await conn.close()


async def produce(jobs: Any, n: int, batch: int, mixed: bool = False) -> int | list[int]:
    """Enqueue the run's jobs; what `wait_completed` waits for."""
    last: int | list[int] = 0
    for first in range(0, n, batch):
        if batch == 1:
            last = (await jobs.enqueue("noop", {"i": first})).id
        else:
            size = min(batch, n - first)
            requests = (
                _mixed_batch(first, size) if mixed
                else [EnqueueRequest(command="noop", request={"i": i}) for i in range(size)]
            )  # fmt: skip
            last = tail_ids(requests, await jobs.enqueue_many(requests))
    return last


async def one_run(url: str, n: int, batch: int, mixed: bool = False) -> dict[str, float]:
    jobs = build(url, "NORMAL")
    if mixed:
        await _mixed_setup(jobs)
    await jobs.open()
    proc, _ = await start_engine(url, "NORMAL")
    try:
        warm = await jobs.enqueue("noop", {"i": -1})
        await wait_completed(jobs, 1, proc, warm.id)
        # Every process of the server, those started or ended during the run included (the
        # engine's pools open connections as they need them): `_pg_procs.py`.
        server_pid = await postmaster(url)
        server0 = server_cpu(server_pid)
        engine0, producer0 = cpu_secs(proc.pid), time.process_time()
        start = time.perf_counter()
        last = await produce(jobs, n, batch, mixed)
        await wait_completed(jobs, n + 1, proc, last)
        wall = time.perf_counter() - start
        producer = time.process_time() - producer0
        engine = cpu_secs(proc.pid) - engine0
        server = server_cpu(server_pid) - server0
    finally:
        await stop_engine(proc)
        await jobs.close()
    per_job = 1e6 / n
    return {
        "jobs_per_s": n / wall, "producer_us": producer * per_job, "engine_us": engine * per_job,
        "server_us": server * per_job, "total_us": (producer + engine + server) * per_job,
    }  # fmt: skip


def run_in(
    tree: str | None, url: str, n: int, batch: int, script: str = __file__,
    extra: tuple[str, ...] = (),
) -> dict[str, float]:  # fmt: skip
    """One run (`script --one URL N BATCH *extra`, this benchmark or another) in a child
    process importing `jobs_core` from `tree` (None: this tree)."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([tree, env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, os.path.abspath(script), "--one", url, str(n), str(batch), *extra],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return dict(json.loads(out.strip().splitlines()[-1]))


def measure(
    stores: Stores, trees: dict[str, str | None], rounds: int, quick: bool, modes: list[str]
) -> Any:
    """Medians per tree and mode; the trees take turns going first."""
    result: dict[str, dict[str, dict[str, float]]] = {name: {} for name in trees}
    for mode in modes:
        n, batch = MODES[mode]
        n = n // 4 if quick else n
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for r in range(rounds):
            for name in rotated(list(trees), r):
                tree = trees[name]
                # FULL: the URL leaves enqueues durable (as in pg_peers.py); the engine
                # itself runs NORMAL (its bookkeeping does not wait for the WAL flush).
                with stores.fresh(f"cpu-{mode}-", "FULL") as url:
                    extra = ("--mixed",) if mode == "mixed" else ()
                    runs[name].append(run_in(tree, url, n, batch, extra=extra))
        for name, done in runs.items():
            result[name][mode] = {key: median([d[key] for d in done]) for key in done[0]}
            result[name][mode]["runs_jobs_per_s"] = [round(d["jobs_per_s"]) for d in done]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="pg", metavar="pg|URL")
    parser.add_argument("--base", help="a revision to compare with, runs alternating")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a quarter of the jobs, 1 round")
    parser.add_argument(
        "--mode", choices=list(MODES), help="only this mode (default: single and batched)"
    )
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--mixed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        url, n, batch = args.one
        print(json.dumps(asyncio.run(one_run(url, int(n), int(batch), args.mixed))))
        return
    stores = Stores(args.store, None)
    try:
        with tempfile.TemporaryDirectory(prefix="jobs-pg-cpu-") as base_tree:
            trees: dict[str, str | None] = {"this tree": None}
            if args.base:
                extract_revision(args.base, base_tree)
                trees = {args.base: base_tree, **trees}
            rounds = 1 if args.quick else args.rounds
            modes = [args.mode] if args.mode else DEFAULT_MODES
            result = measure(stores, trees, rounds, args.quick, modes)
        where = stores.describe()
    finally:
        stores.close()
    print(f"CPU per job end to end, no-op jobs, median of {rounds} run(s), {where}")
    print_table(
        ["tree", "mode", "jobs/s", "producer µs", "engine µs", "server µs", "total µs"],
        [(name, mode, r["jobs_per_s"], f"{r['producer_us']:.1f}", f"{r['engine_us']:.1f}",
          f"{r['server_us']:.1f}", f"{r['total_us']:.1f}")
         for name, modes in result.items() for mode, r in modes.items()],
    )  # fmt: skip
    final_line({"bench": "pg_cpu", "quick": args.quick, "base": args.base, **result})


if __name__ == "__main__":
    main()
