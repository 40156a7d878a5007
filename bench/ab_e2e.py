"""End-to-end throughput of this tree against another revision, runs alternated.

Usage: uv run python bench/ab_e2e.py --base REV [--rounds 3] [--jobs 10000] [--store pg]
           [--durability NORMAL|FULL] [--workload batched|one] [--mixed]
       uv run python bench/ab_e2e.py --base-dir DIR ...   (a tree already on disk)

REV (a commit, branch or tag) is extracted with `git archive` into a temporary directory (or
DIR is used as it is) and imported in place of this tree's packages; both sides use this
tree's interpreter and dependencies. Each round runs the end-to-end measurement of
`throughput.py` (producer and engine in two processes) once for the base and once for this
tree, alternating which goes first, so that a shared machine's drift falls on both
(`--workload one`: `peers.py`'s (a) instead, one producer awaiting one enqueue per job;
with `--durability FULL`, its (e); `--mixed`: the mixed flow-control workload of
`throughput.py --mixed-only`). Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _common import extract_revision, final_line, median, print_table, rotated

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

ONE_RUN = """
import asyncio, dataclasses, json
import throughput
args = throughput.argparse.Namespace(store={store!r}, dir=None, quick=False, runs=1)
cfg = dataclasses.replace(throughput.config(args), e2e_n={jobs})
try:
    rate, _ = asyncio.run(throughput.end_to_end(cfg, {durability!r}, {mixed}))
finally:
    cfg.stores.close()
print(json.dumps({{"rate": rate}}))
"""

ONE_PRODUCER = """
import asyncio, json, time
from _common import data_dir
from _engine_proc import build
from throughput import start_engine, stop_engine, wait_completed

async def main(n):
    with data_dir(None, "jobs-ab-one-") as directory:
        jobs = build(directory, {durability!r})
        proc, _ = await start_engine(directory, {durability!r})
        await asyncio.sleep(0.5)
        try:
            start = time.perf_counter()
            for i in range(n):
                await jobs.enqueue("noop", {{"i": i}})
            await wait_completed(jobs, n, proc)
            elapsed = time.perf_counter() - start
        finally:
            await stop_engine(proc)
            await jobs.close()
    return n / elapsed

print(json.dumps({{"rate": asyncio.run(main({jobs}))}}))
"""
"""`--workload one`: `peers.py`'s (a), one producer awaiting one enqueue per job."""


def run_once(tree: str, args: argparse.Namespace) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tree, os.path.join(tree, "bench")])}
    template = ONE_PRODUCER if args.workload == "one" else ONE_RUN
    store = None if args.store == "sqlite" else args.store
    code = template.format(
        store=store, jobs=args.jobs, durability=args.durability, mixed=args.mixed
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=os.path.join(tree, "bench"), env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return float(json.loads(out.strip().splitlines()[-1])["rate"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--base", help="revision to compare against")
    group.add_argument("--base-dir", help="a source tree to compare against, as it is")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--store", default="sqlite", help="sqlite, pg or a postgresql:// URL")
    parser.add_argument("--durability", default="NORMAL", choices=["NORMAL", "FULL"])
    parser.add_argument(
        "--workload", default="batched", choices=["batched", "one"],
        help="batched: throughput.py's end to end; one: one producer awaiting each enqueue",
    )  # fmt: skip
    parser.add_argument("--mixed", action="store_true", help="the mixed flow-control workload")
    args = parser.parse_args()
    results: dict[str, list[float]] = {"base": [], "this": []}
    with tempfile.TemporaryDirectory(prefix="jobs-ab-") as extracted:
        base_tree = args.base_dir or extracted
        if args.base:
            extract_revision(args.base, base_tree)
        trees = {"base": base_tree, "this": ROOT}
        for n in range(args.rounds):
            for name in rotated(list(trees), n):
                results[name].append(run_once(trees[name], args))
                print(f"round {n + 1} {name}: {results[name][-1]:,.0f} jobs/s", flush=True)
    base, this = median(results["base"]), median(results["this"])
    change = (this - base) / base * 100
    print_table(
        ["tree", "median jobs/s", "runs"],
        [
            [
                args.base or args.base_dir,
                f"{base:,.0f}",
                ", ".join(f"{r:,.0f}" for r in results["base"]),
            ],
            ["this tree", f"{this:,.0f}", ", ".join(f"{r:,.0f}" for r in results["this"])],
            ["change", f"{change:+.1f}%", ""],
        ],
    )
    final_line({"base": args.base or args.base_dir, "mixed": args.mixed, "base_rate": base,
                "this_rate": this, "change_pct": change, "runs": results})  # fmt: skip


if __name__ == "__main__":
    main()
