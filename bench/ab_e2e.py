"""End-to-end throughput of this tree against another revision, runs alternated.

Usage: uv run python bench/ab_e2e.py --base REV [--rounds 3] [--jobs 10000] [--store pg]
           [--durability NORMAL|FULL] [--workload batched|one|many] [--pace N] [--mixed]
       uv run python bench/ab_e2e.py --base-dir DIR ...   (a tree already on disk)

REV (a commit, branch or tag) is extracted with `git archive` into a temporary directory (or
DIR is used as it is) and imported in place of this tree's packages; both sides use this
tree's interpreter and dependencies. Each round runs the end-to-end measurement of
`throughput.py` (producer and engine in two processes) once for the base and once for this
tree, alternating which goes first, so that a shared machine's drift falls on both
(`--workload one`: `peers.py`'s (a) instead, one producer awaiting one enqueue per job;
with `--durability FULL`, its (e); `--workload many`: its (b), 100 concurrent producers
(coroutines) in one process awaiting one enqueue each; `--mixed`: the mixed flow-control
workload of `throughput.py --mixed-only`). For `one` and `many` the table also gives the
CPU µs a job of the producer's and the engine's process while the jobs ran (medians);
`--pace N` paces `one` to N jobs/s, the regime where the engine keeps up and claims a few
jobs at a time.
Prints a table and a final JSON line.
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

PRODUCERS = """
import asyncio, json, time
from _common import cpu_secs, data_dir
from _engine_proc import build
from throughput import start_engine, stop_engine, wait_completed

async def producer(jobs, first, step, n):
    pace, began = {pace}, time.perf_counter()
    for i in range(first, n, step):
        await jobs.enqueue("noop", {{"i": i}})
        if pace and i % max(1, pace // 1000) == 0:  # bursts a millisecond apart
            await asyncio.sleep(max(0.0, began + (i + 1) / pace - time.perf_counter()))

async def main(n, producers):
    with data_dir(None, "jobs-ab-one-") as directory:
        jobs = build(directory, {durability!r})
        proc, _ = await start_engine(directory, {durability!r})
        await asyncio.sleep(0.5)
        try:
            cpu = time.process_time(), cpu_secs(proc.pid)
            start = time.perf_counter()
            await asyncio.gather(*(producer(jobs, p, producers, n) for p in range(producers)))
            await wait_completed(jobs, n, proc)
            elapsed = time.perf_counter() - start
            cpu_producer = (time.process_time() - cpu[0]) / n * 1e6
            cpu_engine = (cpu_secs(proc.pid) - cpu[1]) / n * 1e6
        finally:
            await stop_engine(proc)
            await jobs.close()
    return {{"rate": n / elapsed, "cpu_producer": cpu_producer, "cpu_engine": cpu_engine}}

print(json.dumps(asyncio.run(main({jobs}, {producers}))))
"""
"""`--workload one`: `peers.py`'s (a), one producer awaiting one enqueue per job;
`--workload many`: its (b), 100 concurrent producers."""


PRODUCER_COUNT = {"one": 1, "many": 100}


def run_once(tree: str, args: argparse.Namespace) -> dict[str, float]:
    """One run: its rate, and for `one` and `many` the CPU µs a job of each process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tree, os.path.join(tree, "bench")])}
    template = PRODUCERS if args.workload in PRODUCER_COUNT else ONE_RUN
    store = None if args.store == "sqlite" else args.store
    code = template.format(
        store=store, jobs=args.jobs, durability=args.durability, mixed=args.mixed,
        producers=PRODUCER_COUNT.get(args.workload, 1), pace=args.pace,
    )  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=os.path.join(tree, "bench"), env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return {k: float(v) for k, v in json.loads(out.strip().splitlines()[-1]).items()}


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
        "--workload", default="batched", choices=["batched", "one", "many"],
        help="batched: throughput.py's end to end; one: one producer awaiting each enqueue; "
        "many: 100 concurrent producers awaiting one enqueue each",
    )  # fmt: skip
    parser.add_argument("--mixed", action="store_true", help="the mixed flow-control workload")
    parser.add_argument(
        "--pace", type=int, default=0,
        help="with --workload one: enqueue at most this many jobs/s (an engine that keeps up "
        "claims a few at a time: its CPU a job is the figure to read)",
    )  # fmt: skip
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
    with tempfile.TemporaryDirectory(prefix="jobs-ab-") as extracted:
        base_tree = args.base_dir or extracted
        if args.base:
            extract_revision(args.base, base_tree)
        trees = {"base": base_tree, "this": ROOT}
        for n in range(args.rounds):
            for name in rotated(list(trees), n):
                runs[name].append(run_once(trees[name], args))
                print(f"round {n + 1} {name}: {_describe(runs[name][-1])}", flush=True)
    report(args, runs)


def _describe(run: dict[str, float]) -> str:
    rate = f"{run['rate']:,.0f} jobs/s"
    if "cpu_engine" not in run:  # the batched workload measures no CPU per process
        return rate
    producer, engine = run["cpu_producer"], run["cpu_engine"]
    return f"{rate}; CPU µs a job: producer {producer:.1f}, engine {engine:.1f}"


def report(args: argparse.Namespace, runs: dict[str, list[dict[str, float]]]) -> None:
    results = {name: [r["rate"] for r in done] for name, done in runs.items()}
    base, this = median(results["base"]), median(results["this"])
    change = (this - base) / base * 100
    rows = [
        [args.base or args.base_dir, f"{base:,.0f}",
         ", ".join(f"{r:,.0f}" for r in results["base"])],
        ["this tree", f"{this:,.0f}", ", ".join(f"{r:,.0f}" for r in results["this"])],
        ["change", f"{change:+.1f}%", ""],
    ]  # fmt: skip
    cpu: dict[str, float] = {}
    for key in ("cpu_producer", "cpu_engine"):
        for name, done in runs.items():
            values = [r[key] for r in done if key in r]
            if values:
                cpu[f"{name}_{key}_us"] = median(values)
                label = f"{name}: CPU µs a job, {key.split('_')[1]}"
                rows.append([label, f"{median(values):.1f}",
                             ", ".join(f"{v:.1f}" for v in values)])  # fmt: skip
    print_table(["tree", "median jobs/s", "runs"], rows)
    final_line({"base": args.base or args.base_dir, "workload": args.workload,
                "mixed": args.mixed, "base_rate": base, "this_rate": this,
                "change_pct": change, "runs": results, **cpu})  # fmt: skip


if __name__ == "__main__":
    main()
