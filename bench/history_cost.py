"""What attempt history costs the hot path, and each other part issue 11 put there (the
archive's search index, batch counters, fan-in): this tree against copies of it with one part
removed, runs alternated, on SQLite and PostgreSQL, with and without retries.

Usage: uv run python bench/history_cost.py [--parts history,search,batch,fanin]
           [--stores sqlite,pg] [--workloads store happy,...] [--rounds 5] [--jobs 20000]
           [--retry-every 10] [--e2e-rounds 5] [--e2e-parts history] [--e2e-stores STORES]
           [--quick]

Each part's copy is this tree (jobs_core, bench and the test server launcher, as they are on
disk) with `bench/history_cost/PART.patch` applied: exactly that part's writes, reads and
statements on the hot path taken out (bench/README.md says what each removes). A patch that
no longer applies stops the run, naming it.

CPU (`_history_cost_run.py`, a fresh process and store a run): N jobs enqueued (not
measured), then "store": claimed 100 at a time, finished, archived, CPU µs per job of the
store's calls; "engine": a real engine drains them in one process, its CPU µs per job. The
PostgreSQL server's processes' CPU is added (read from /proc). "happy": every job completes
at once; "retry": one job in --retry-every fails its first attempt, is queued again (due at
once) and then completes. Each round runs every tree once per workload, in a rotating
order; the cost is the difference of the medians of rounds ("cost (least)": of the least
run of each, steadier when the machine is shared). Then end to end (`throughput.py`'s
producer and engine processes, happy path) for --e2e-parts, --e2e-rounds alternating
rounds: jobs/s and CPU a job, medians. Prints tables and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import REPO, final_line, median, print_table, rotated
from _stores import Stores

E2E_RUN = """
import asyncio, dataclasses, json, resource, sys
import throughput
from _history_cost_run import server_cpu
postmaster = {postmaster}
args = throughput.argparse.Namespace(store={store!r}, dir=None, quick=False, runs=1)
cfg = dataclasses.replace(throughput.config(args), e2e_n={jobs})
server0 = server_cpu(postmaster)
try:
    rate, _ = asyncio.run(throughput.end_to_end(cfg, "NORMAL"))
finally:
    cfg.stores.close()
used = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
cpu = sum(u.ru_utime + u.ru_stime for u in used) + server_cpu(postmaster) - server0
print(json.dumps({{"rate": rate, "cpu_us": cpu / {jobs} * 1e6}}))
"""
"""`throughput.py`'s end-to-end run, with the CPU time of the producer, the engine process
and the PostgreSQL server (whole processes: their start and idle polling count too)."""

HERE = os.path.dirname(os.path.abspath(__file__))
PATCHES = os.path.join(HERE, "history_cost")
RUN = "_history_cost_run.py"
PARTS = ("history", "search", "batch", "fanin")
COPIED = ("jobs_core", "bench", "tests/__init__.py", "tests/pg_server.py")
THIS = "this tree"
WORKLOADS = ("store happy", "store retry", "engine happy", "engine retry")


def make_tree(part: str, into: str) -> str:
    """A copy of this tree with `part`'s patch applied; its path."""
    tree = os.path.join(into, part)
    for name in COPIED:
        source = os.path.join(REPO, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(tree, name),
                            ignore=shutil.ignore_patterns("__pycache__", ".*cache"))  # fmt: skip
        elif os.path.exists(source):
            os.makedirs(os.path.dirname(os.path.join(tree, name)), exist_ok=True)
            shutil.copy2(source, os.path.join(tree, name))
    patch = os.path.join(PATCHES, f"{part}.patch")
    applied = subprocess.run(["git", "apply", patch], cwd=tree, capture_output=True, text=True)
    if applied.returncode:
        raise SystemExit(
            f"{patch} no longer applies to this tree ({applied.stderr.strip()}): remake it "
            "(bench/README.md, 'What history costs')"
        )
    return tree


def postmaster_of(stores: Stores) -> int | None:
    if stores.server is None:
        return None
    return int((Path(stores.server.data) / "postmaster.pid").read_text().split()[0])


def store_run(
    tree: str, stores: Stores, jobs: int, retry_every: int, engine: bool
) -> dict[str, float]:
    """One run of `tree`: CPU µs per job of each phase (or of the engine), and their total."""
    env = {**os.environ, "PYTHONPATH": tree}
    pid = postmaster_of(stores)
    with stores.fresh("jobs-history-cost-") as location:
        if stores.base is None:
            location = os.path.join(location, "store")
        out = subprocess.run(
            [sys.executable, os.path.join(HERE, RUN), *(["engine"] if engine else []),
             location, str(jobs), str(retry_every),
             *([str(pid)] if pid else [])],
            env=env, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    got: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    got["total"] = sum(got.values())
    return got


def e2e_run(tree: str, stores: Stores, jobs: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tree, os.path.join(tree, "bench")])}
    code = E2E_RUN.format(store=stores.base, jobs=jobs, postmaster=postmaster_of(stores))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=os.path.join(tree, "bench"), env=env, check=True,
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def store_rounds(
    trees: dict[str, str], stores: Stores, args: argparse.Namespace, workload: str
) -> dict[str, list[dict[str, float]]]:
    every = args.retry_every if "retry" in workload else 0
    engine = workload.startswith("engine")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for n in range(args.rounds):
        for name in rotated(list(trees), n):
            runs[name].append(store_run(trees[name], stores, args.jobs, every, engine))
            print(f"  {stores.backend} {workload} round {n + 1} {name}: "
                  f"{runs[name][-1]['total']:.1f} µs/job", flush=True)  # fmt: skip
    return runs


def cost_rows(
    backend: str, workload: str, runs: dict[str, list[dict[str, float]]]
) -> tuple[list[list[str]], dict[str, dict[str, float]]]:
    """Per part: this tree's and the copy's median CPU per job, and the difference."""
    totals = {name: [r["total"] for r in rs] for name, rs in runs.items()}
    this, least = median(totals[THIS]), min(totals[THIS])
    rows, found = [], {}
    for part, spread in totals.items():
        if part == THIS:
            continue
        cost, without = this - median(spread), median(spread)
        found[part] = {"this_us": this, "without_us": without, "cost_us": cost,
                       "cost_pct": cost / without * 100,
                       "cost_least_us": least - min(spread)}  # fmt: skip
        rows.append([backend, workload, part, f"{this:.1f}", f"{without:.1f}",
                     f"{cost:+.1f}", f"{cost / without * 100:+.1f}%",
                     f"{least - min(spread):+.1f}", f"{min(spread):.1f}-{max(spread):.1f}",
                     f"{least:.1f}-{max(totals[THIS]):.1f}"])  # fmt: skip
    return rows, found


@contextmanager
def store_kind(name: str) -> Iterator[Stores]:
    stores = Stores(None if name == "sqlite" else name, None)
    try:
        yield stores
    finally:
        stores.close()


def store_cpu(trees: dict[str, str], args: argparse.Namespace) -> dict[str, object]:
    rows: list[list[str]] = []
    found: dict[str, object] = {}
    for backend in args.stores:
        with store_kind(backend) as stores:
            for workload in args.workloads:
                runs = store_rounds(trees, stores, args, workload)
                more, figures = cost_rows(backend, workload, runs)
                rows += more
                found[f"{backend} {workload}"] = {
                    "medians": figures,
                    "phases_us": {name: {k: median([r[k] for r in rs]) for k in rs[0]}
                                  for name, rs in runs.items()},
                    "totals": {name: [r["total"] for r in rs] for name, rs in runs.items()},
                }  # fmt: skip
    print(f"\nCPU µs per job, median of {args.rounds} rounds of {args.jobs:,} jobs (store: "
          "its claim, finish and archive; engine: the whole process draining them; the "
          "server's added); cost = this tree - the copy without the part")  # fmt: skip
    print_table(["store", "workload", "part", "this tree", "without", "cost", "cost %",
                 "cost (least)", "runs without", "runs this"], rows)  # fmt: skip
    return found


def e2e_pair(
    pair: dict[str, str], stores: Stores, args: argparse.Namespace
) -> dict[str, list[dict[str, float]]]:
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in pair}
    for n in range(args.e2e_rounds):
        for name in rotated(list(pair), n):
            runs[name].append(e2e_run(pair[name], stores, args.e2e_jobs))
            got = runs[name][-1]
            print(f"  e2e {stores.backend} round {n + 1} {name}: {got['rate']:,.0f} jobs/s, "
                  f"{got['cpu_us']:.1f} µs CPU/job", flush=True)  # fmt: skip
    return runs


def end_to_end(trees: dict[str, str], args: argparse.Namespace) -> dict[str, object]:
    rows: list[list[str]] = []
    found: dict[str, object] = {}
    for backend in args.e2e_stores:
        with store_kind(backend) as stores:
            for part in args.e2e_parts:
                runs = e2e_pair({THIS: REPO, part: trees[part]}, stores, args)
                m = {n: {k: median([r[k] for r in rs]) for k in ("rate", "cpu_us")}
                     for n, rs in runs.items()}  # fmt: skip
                rate = (m[THIS]["rate"] - m[part]["rate"]) / m[part]["rate"] * 100
                cpu = (m[THIS]["cpu_us"] - m[part]["cpu_us"]) / m[part]["cpu_us"] * 100
                rows.append([backend, part, f"{m[THIS]['rate']:,.0f}", f"{m[part]['rate']:,.0f}",
                             f"{rate:+.1f}%", f"{m[THIS]['cpu_us']:.1f}",
                             f"{m[part]['cpu_us']:.1f}", f"{cpu:+.1f}%",
                             " ".join(f"{r['rate']:,.0f}" for r in runs[THIS]),
                             " ".join(f"{r['rate']:,.0f}" for r in runs[part])])  # fmt: skip
                found[f"{backend} {part}"] = {"medians": m, "rate_change_pct": rate,
                                              "cpu_change_pct": cpu, "runs": runs}  # fmt: skip
    print(f"\nEnd to end (happy path), median of {args.e2e_rounds} alternating rounds of "
          f"{args.e2e_jobs:,} jobs: jobs/s, and CPU µs a job of the producer, the engine "
          "process and the server (process start and idle polling included)")  # fmt: skip
    print_table(["store", "part", "jobs/s", "without", "change", "CPU", "without", "change",
                 "jobs/s runs", "runs without"], rows)  # fmt: skip
    return found


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    listed = lambda text: [p for p in text.split(",") if p]  # noqa: E731
    parser.add_argument("--parts", type=listed, default=list(PARTS))
    parser.add_argument("--stores", type=listed, default=["sqlite", "pg"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--retry-every", type=int, default=10)
    parser.add_argument("--workloads", type=listed, default=list(WORKLOADS))
    parser.add_argument("--e2e-rounds", type=int, default=5, help="0: no end-to-end runs")
    parser.add_argument("--e2e-jobs", type=int, default=20_000)
    parser.add_argument("--e2e-parts", type=listed, default=["history"])
    parser.add_argument("--e2e-stores", type=listed, help="default: --stores")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 4,000 jobs")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.jobs, args.e2e_jobs = 2, 4000, 5000
        args.e2e_rounds = min(args.e2e_rounds, 2)
    if args.e2e_stores is None:
        args.e2e_stores = args.stores
    if set(args.workloads) - set(WORKLOADS):
        parser.error(f"--workloads: expected some of {', '.join(WORKLOADS)}")
    unknown = set(args.parts + args.e2e_parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}: expected {', '.join(PARTS)}")
    args.e2e_parts = [p for p in args.e2e_parts if p in args.parts]
    return args


def main() -> None:
    args = parse()
    with tempfile.TemporaryDirectory(prefix="jobs-history-cost-trees-") as into:
        trees = {THIS: REPO, **{part: make_tree(part, into) for part in args.parts}}
        store = store_cpu(trees, args)
        e2e = end_to_end(trees, args) if args.e2e_rounds else {}
    final_line({"jobs": args.jobs, "rounds": args.rounds, "retry_every": args.retry_every,
                "store_cpu": store, "e2e": e2e})  # fmt: skip


if __name__ == "__main__":
    main()
