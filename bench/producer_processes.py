"""Awaited enqueues from several producer processes at once on one SQLite store, no engine:
what they get together, at FULL (every commit synced) or NORMAL.

Usage: uv run python bench/producer_processes.py [--processes 4] [--jobs 3000]
           [--durability FULL|NORMAL] [--rounds 3] [--base REV | --base-dir DIR]

Each producer process awaits one `enqueue` per job, `--jobs` each; all start at one wall-clock
moment (after their imports and a store open), and the rate is every job over the time from
that moment to the last producer's end. With `--base` (a revision, extracted with `git
archive`) or `--base-dir` (a tree on disk) the rounds alternate that tree and this one, each
imported in place of the other (the same interpreter and dependencies). Every run checks
that exactly processes x jobs jobs are queued. Prints a table (medians) and a final JSON line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from _common import base_tree, data_dir, final_line, median, print_table, rotated

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
START_AFTER_SECS = 2.0
"""How long after spawning them the producers begin together (their imports and opens)."""

PRODUCER = """
import asyncio, sys, time
from jobs_core import BackgroundJobs, Durability, Settings

async def main(directory, durability, first, n, start_at):
    jobs = BackgroundJobs(directory, settings=Settings(durability=Durability(durability)))
    jobs.command(name="noop")(lambda req: None)
    await jobs.counts()  # the store opened before the start
    time.sleep(max(0.0, start_at - time.time()))
    for i in range(first, first + n):
        await jobs.enqueue("noop", {"i": i})
    print(time.time())
    await jobs.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                 float(sys.argv[5])))
"""

COUNT = """
import asyncio, sys
from jobs_core import BackgroundJobs, JobState

async def main(directory):
    jobs = BackgroundJobs(directory)
    try:
        print((await jobs.counts())[JobState.QUEUED])
    finally:
        await jobs.close()

asyncio.run(main(sys.argv[1]))
"""


def _producer(
    env: dict[str, str], directory: str, args: argparse.Namespace, p: int, start_at: float
) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", PRODUCER, directory, args.durability,
               str(p * args.jobs), str(args.jobs), str(start_at)]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


def run_once(tree: str, args: argparse.Namespace) -> float:
    """Enqueues a second of one round on `tree`'s `jobs_core`."""
    env = {**os.environ, "PYTHONPATH": tree}
    with data_dir(None, "jobs-producers-") as directory:
        subprocess.run([sys.executable, "-c", COUNT, directory], env=env, check=True,
                       capture_output=True)  # fmt: skip
        start_at = time.time() + START_AFTER_SECS
        procs = [_producer(env, directory, args, p, start_at) for p in range(args.processes)]
        ends = []
        for proc in procs:
            out, _ = proc.communicate(timeout=600)
            if proc.returncode != 0:
                sys.exit(f"a producer failed (exit {proc.returncode})")
            ends.append(float(out.strip().splitlines()[-1]))
        queued = subprocess.run(
            [sys.executable, "-c", COUNT, directory], env=env, check=True,
            capture_output=True, text=True,
        ).stdout  # fmt: skip
    expected = args.processes * args.jobs
    if int(queued) != expected:
        sys.exit(f"{int(queued)} jobs queued, expected {expected}")
    return expected / (max(ends) - start_at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=3000, help="enqueues per process")
    parser.add_argument("--durability", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument("--rounds", type=int, default=3)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--base", help="a revision to alternate with this tree")
    group.add_argument("--base-dir", help="a source tree to alternate with this tree")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jobs-producers-base-") as extracted:
        trees = {"this tree": ROOT}
        base = base_tree(args.base, args.base_dir, extracted)
        if base is not None:
            trees = {args.base or args.base_dir: base, **trees}
        runs: dict[str, list[float]] = {name: [] for name in trees}
        for n in range(args.rounds):
            for name in rotated(list(trees), n):
                runs[name].append(run_once(trees[name], args))
                print(f"round {n + 1} {name}: {runs[name][-1]:,.0f} enqueues/s", flush=True)
    print(f"{args.processes} producer processes, {args.jobs:,} awaited enqueues each, "
          f"{args.durability}, no engine: median of {args.rounds} round(s)")  # fmt: skip
    print_table(
        ["tree", "enqueues/s", "rounds"],
        [[name, f"{median(r):,.0f}", ", ".join(f"{v:,.0f}" for v in r)]
         for name, r in runs.items()],
    )  # fmt: skip
    final_line({
        "bench": "producer_processes", "processes": args.processes, "jobs": args.jobs,
        "durability": args.durability, "rounds": args.rounds,
        "per_s": {name: median(r) for name, r in runs.items()},
    })  # fmt: skip


if __name__ == "__main__":
    main()
