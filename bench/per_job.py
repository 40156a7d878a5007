"""The engine's per-job path on SQLite, step by step: µs per job of claim, start, context,
handler call, outcome and archive, this tree against another revision, runs alternated.

Usage: uv run python bench/per_job.py [--base REV] [--rounds 5] [--jobs 20000] [--quick]
       [--mixed]
       uv run python bench/per_job.py --base-dir DIR ...   (a tree already on disk)

Each run (`_per_job_run.py`, a fresh process and store) enqueues --jobs no-op jobs (not
measured), then lets a real engine drain them, with each step wrapped in a wall-clock timer
where it is defined. A shared machine stretches every step's wall time by the share of the
CPU the process gets, so each step is scaled by the run's CPU time over its wall time: the
steps add up to the CPU time per job ("cpu"; it includes the WAL checkpointer thread), and
"loop and rest" is what no step holds (the event loop, task switches, the dispatch loop).
"wall" is the drain's wall time per job; "cpu, plain" and "wall, plain" are those of a run
with no step wrapped (the timers cost ~0.3 µs a step); "ran: wall, plain" and "ran: loop
cpu, plain" are the plain run's wall time and its loop thread's CPU time up to the last
outcome written (before the last archive passes, as `throughput.py`'s drain): with work in
the store's threads, the loop thread's CPU time is what bounds the rate on an idle machine.
Every run checks that exactly N handlers ran.
`--mixed`: `throughput.py`'s mixed flow-control workload (5 queues, two with a concurrency
limit, priorities, keys) instead of the default queue.
Compare the two trees of one run (medians of alternating rounds). Prints a table and a final
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _common import REPO, extract_revision, final_line, median, print_table, rotated

RUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_per_job_run.py")
STEPS = (
    "claim", "start", "context", "prepare", "handler call", "attempt record", "outcome rules",
    "outcome write", "claim and outcome write", "outcome other", "claim + outcome write",
    "archive", "loop and rest", "cpu", "wall", "cpu, plain",
    "wall, plain", "ran: wall, plain", "ran: loop cpu, plain",
)  # fmt: skip


PLAIN = ("cpu", "wall", "ran: wall", "ran: loop cpu")
"""What a plain run reports (`ran:` up to the last outcome written, before the last archive
passes; `loop cpu`: the loop thread's CPU time, which bounds the rate on an idle machine
when the store's threads work beside it)."""


def run_once(tree: str, jobs: int, mixed: bool = False) -> dict[str, float]:
    """One instrumented run and one plain run (no step wrapped) of `tree`."""
    env = {**os.environ, "PYTHONPATH": tree}
    result: dict[str, float] = {}
    for mode in ("steps", "plain"):
        out = subprocess.run(
            [sys.executable, RUN, str(jobs), mode, *(["mixed"] if mixed else [])],
            env=env, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        got = json.loads(out.strip().splitlines()[-1])
        if mode == "plain":
            got = {f"{k}, plain": got.get(k, 0.0) for k in PLAIN}
        result.update(got)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--base", help="a revision to compare against (its jobs_core)")
    group.add_argument("--base-dir", help="a source tree to compare against, as it is")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="1 round of 5,000 jobs")
    parser.add_argument("--mixed", action="store_true", help="the mixed flow-control workload")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.jobs = 1, 5000
    trees = {"this": REPO}
    with tempfile.TemporaryDirectory(prefix="jobs-per-job-tree-") as base_tree:
        if args.base:
            extract_revision(args.base, base_tree, "jobs_core")
        if args.base or args.base_dir:
            trees = {"base": args.base_dir or base_tree, "this": REPO}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for n in range(args.rounds):
            for name in rotated(list(trees), n):
                runs[name].append(run_once(trees[name], args.jobs, args.mixed))
                last = runs[name][-1]
                cpu, wall = last["cpu"], last["wall"]
                print(f"round {n + 1} {name}: cpu {cpu:.1f}, wall {wall:.1f} µs/job", flush=True)
    medians = {name: {s: median([r[s] for r in rs]) for s in STEPS} for name, rs in runs.items()}
    print(
        f"µs per job (CPU; steps scaled by CPU/wall), "
        f"median of {args.rounds} rounds of {args.jobs:,} jobs"
        + (", mixed workload" if args.mixed else "")
    )
    headers = ["step", *medians]
    if "base" in trees:
        headers.append("change")
    rows = []
    for step in STEPS:
        row: list[str] = [step, *(f"{m[step]:.1f}" for m in medians.values())]
        if "base" in trees:
            row.append(f"{medians['this'][step] - medians['base'][step]:+.1f}")
        rows.append(row)
    print_table(headers, rows)
    final_line(
        {
            "base": args.base or args.base_dir,
            "jobs": args.jobs,
            "mixed": args.mixed,
            "medians_us": medians,
            "runs": runs,
        }
    )


if __name__ == "__main__":
    main()
