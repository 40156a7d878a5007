"""CPU time of one awaited `enqueue` with each kind of option on SQLite, and whether it waits
for `jobs.db`'s write lock: this tree, or this tree against another revision, runs
alternated.

Usage: uv run python bench/enqueue_options.py [--base REV | --base-dir DIR] [--rounds 3]
       [--n 2000]

For each option set (none; a queue; a priority; the three flow options together; a tag; a
creator; a user; a callback; args; a `reply_to`; a creator, user and queue together; a
ref_id, which is looked up; a named worker) a fresh store at NORMAL with no engine takes
--n awaited `jobs.enqueue("noop", ...)` calls (after one not timed: what the options
import, `reply_to`'s `httpx`, is imported), timed by the process's CPU; the least of the
rounds is shown. "waits for jobs.db": whether one such enqueue, made while another
connection holds `jobs.db`'s write lock (as an engine's claim or finish does), waits for it
(the store's busy timeout set to 0.3 s) or goes to the inbox (`jobs.inbox`) at once. Prints
a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _common import base_tree, final_line, print_table, rotated
from ab_e2e import ROOT

OPTIONS: dict[str, dict[str, object]] = {
    "none": {},
    "queue": {"queue": "mail"},
    "priority": {"priority": 2},
    "queue + priority + key": {"queue": "mail", "priority": 2, "concurrency_key": "user:1"},
    "tag": {"tag": "t"},
    "created_by": {"created_by": "web"},
    "user_id": {"user_id": "u1"},
    "callback": {"callback": "noop"},
    "args": {"args": {"lang": "en"}},
    "reply_to": {"reply_to": "http://127.0.0.1:9/hook"},
    "created_by + user_id + queue": {"created_by": "web", "user_id": "u1", "queue": "mail"},
    "ref_id (a lookup)": {"ref_id": "r"},
    "worker (named)": {"worker": "w"},
}
"""Option sets by name; a ref_id is made unique per job."""

ONE_RUN = """
import asyncio, json, sqlite3, sys, tempfile, time, os
from jobs_core import BackgroundJobs, Settings, StoreBusyError

options = json.loads(sys.argv[1])
n = int(sys.argv[2])

def opts(i):
    return {**options, "ref_id": f"r{i}"} if "ref_id" in options else options

async def main():
    directory = tempfile.mkdtemp(prefix="jobs-enqopt-")
    jobs = BackgroundJobs(directory, settings=Settings(busy_timeout_secs=0.3))

    @jobs.command
    async def noop(req: dict) -> None:
        return None

    await jobs.enqueue("noop", {"i": -1}, ref_id="first")  # the store made, ids reserved
    await jobs.enqueue("noop", {"i": -2}, **opts(-2))  # what the options import, imported
    start = time.process_time()
    for i in range(n):
        await jobs.enqueue("noop", {"i": i}, **opts(i))
    cpu = (time.process_time() - start) / n * 1e6
    holder = sqlite3.connect(os.path.join(directory, "jobs.db"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        await jobs.enqueue("noop", {"i": n}, **opts(n))
        waits = False
    except StoreBusyError:
        waits = True
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await jobs.close()
    print(json.dumps({"cpu_us": cpu, "waits": waits}))

asyncio.run(main())
"""


def run_once(tree: str, options: dict[str, object], n: int) -> dict[str, float]:
    """One fresh store's figures (`ONE_RUN`) with `tree`'s `jobs_core`."""
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run(
        [sys.executable, "-c", ONE_RUN, json.dumps(options), str(n)],
        env=env, capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(),
    ).stdout  # fmt: skip
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--base", help="revision to compare against")
    group.add_argument("--base-dir", help="a source tree to compare against, as it is")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=2000, help="awaited enqueues a run")
    args = parser.parse_args()
    runs: dict[str, dict[str, list[dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="jobs-ab-") as extracted:
        trees = {"this": ROOT}
        base = base_tree(args.base, args.base_dir, extracted)
        if base is not None:
            trees = {"base": base, "this": ROOT}
        runs = {tree: {name: [] for name in OPTIONS} for tree in trees}
        for r in range(args.rounds):
            for name, options in OPTIONS.items():
                for tree in rotated(list(trees), r):
                    runs[tree][name].append(run_once(trees[tree], options, args.n))
            print(f"round {r + 1} of {args.rounds} done", flush=True)
    best = {
        tree: {name: min(x["cpu_us"] for x in rs) for name, rs in by.items()}
        for tree, by in runs.items()
    }
    waits = {
        tree: {name: any(x["waits"] for x in rs) for name, rs in by.items()}
        for tree, by in runs.items()
    }
    names = list(runs)

    def where(tree: str, name: str) -> str:
        return "waits" if waits[tree][name] else "no"

    rows = [
        [name, *(f"{best[t][name]:.1f}" for t in names), *(where(t, name) for t in names)]
        for name in OPTIONS
    ]
    label = f"; base: {args.base or args.base_dir}" if len(names) > 1 else ""
    print(f"CPU µs of one awaited enqueue, the least of {args.rounds} rounds of {args.n}{label}")
    print_table(
        ["options", *(f"CPU {t}" for t in names), *(f"waits for jobs.db, {t}" for t in names)],
        rows,
    )
    final_line(
        {
            "bench": "enqueue_options",
            "base": args.base or args.base_dir,
            "n": args.n,
            "rounds": args.rounds,
            "best_cpu_us": best,
            "waits_for_jobs_db": waits,
        }
    )


if __name__ == "__main__":
    main()
