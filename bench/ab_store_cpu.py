"""CPU time per job of the SQLite store's hot path (claim, finish, archive; or `--enqueue`),
this tree against another revision, runs alternated.

Usage: uv run python bench/ab_store_cpu.py --base REV [--rounds 5] [--jobs 20000] [--mixed]
       [--backlog N] [--archive-every N] [--enqueue]
       uv run python bench/ab_store_cpu.py --base-dir DIR ...

Each run enqueues --jobs no-op jobs into a fresh store (not measured), then claims them 100
at a time, finishes each claim as completed and archives them into their month file,
measuring the process's CPU time of each phase. No engine, handler or event-loop work is
counted, and CPU time (the minimum over rounds) hardly moves when the machine is shared,
where end-to-end throughput (`ab_e2e.py`) swings by 2x: this isolates what a change to the
store costs a job. `--mixed`: `throughput.py`'s mixed workload instead of the default queue
(5 queues, two with a concurrency limit of 50, priorities 0-3, a concurrency key from 2,000
users on one job in five). `--backlog N`: N jobs of commands the claims do not run queued
first (`growth.py`'s "queued, other command" store, without the end-to-end noise).
`--archive-every N`: archive (up to 2,000 jobs) after every N claims, as an engine does while
it drains (`in_order`, where the revision has it), instead of all at the end: finished jobs
then reach their month out of id order when priorities reorder the claims, unless the passes
keep them back for the older jobs (`store/sqlite/archive_order.py`); what they keep back is
archived at the end, and counted.
`--enqueue`: the enqueue path instead, in a fresh store at NORMAL with no engine: CPU per
awaited `jobs.enqueue("noop", {"i": i})` through the public API, per job of `enqueue_many`
(batches of 1,000 `EnqueueRequest`s, made in the timed loop as `throughput.py` makes them),
per job of `enqueue_each` (`each`: 1,000 request dicts a call, made in the loop; trees that
have it, not with `--mixed`), and the two first at the store's level (`SqliteStore.enqueue`
of ready-made `NewJob`s); with `--mixed`, the jobs set the mixed workload's queue, priority
and key.
Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _common import extract_revision, final_line, print_table, rotated
from ab_e2e import ROOT

FLOW = """
QUEUES = ("mail", "billing", "reports", "media", "webhooks")

def flow(i):
    if not {mixed}:
        return {{}}
    return dict(queue=QUEUES[i % 5], priority=(i * 7) % 4,
                concurrency_key=f"user:{{i % 2000}}" if i % 10 < 2 else None)
"""
"""The mixed workload's options of job `i` (`--mixed`), in both scripts below."""

ONE_RUN = (
    """
import asyncio, inspect, json, shutil, tempfile, time
from jobs_core.records import JobState
from jobs_core.store.protocol import NewJob, QueueChange, Transition
from jobs_core.store.sqlite.store import SqliteStore
"""
    + FLOW
    + """
async def main(n):
    directory = tempfile.mkdtemp(prefix="jobs-ab-store-")
    store = SqliteStore(directory)
    now = 1_764_000_000_000
    owner = "host-1234567:12345:abcdef12"
    if {mixed}:
        for name in ("mail", "billing"):
            await store.set_queue(name, QueueChange(concurrency=50), now)
    for first in range(0, {backlog}, 1000):
        await store.enqueue([
            NewJob(command=f"cmd_{{i % 10}}", request_type="dict", request_body="{{}}",
                   worker="", run_after=now, retry_limit=2, timeout_secs=600.0)
            for i in range(first, min({backlog}, first + 1000))], now)
    for first in range(0, n, 1000):
        await store.enqueue([
            NewJob(command="noop", request_type="dict", request_body='{{"i": %d}}' % i,
                   worker="", run_after=now, retry_limit=2, timeout_secs=600.0, **flow(i))
            for i in range(first, first + 1000)], now)
    cpu = {{"claim": 0.0, "finish": 0.0, "archive": 0.0}}
    # An engine's passes while it runs (in id order, where the revision has it).
    pace = {{"in_order": True}} if "in_order" in inspect.signature(
        store.archive_finished).parameters else {{}}
    done = claims = 0
    while done < n:
        t0 = time.process_time()
        jobs = await store.claim(owner=owner, commands=["noop"], named=False, limit=100,
                                 now=now)
        t1 = time.process_time()
        cpu["claim"] += t1 - t0
        if not jobs:
            raise SystemExit(f"a claim found nothing with {{n - done}} jobs left")
        done += len(jobs)
        await store.finish([
            Transition(job_id=j.id, state=JobState.COMPLETED, owner_guard=owner,
                       duration_ms=1, response_type="NoneType", response_body="null",
                       progress=1.0)
            for j in jobs], [], now)
        cpu["finish"] += time.process_time() - t1
        claims += 1
        if {archive_every} and claims % {archive_every} == 0:
            t0 = time.process_time()
            await store.archive_finished(now, 2000, **pace)
            cpu["archive"] += time.process_time() - t0
    t0 = time.process_time()
    while await store.archive_finished(now, 2000):
        pass
    cpu["archive"] += time.process_time() - t0
    await store.close()
    shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps({{k: v / n * 1e6 for k, v in cpu.items()}}))

asyncio.run(main({jobs}))
"""
)
PHASES = ("claim", "finish", "archive")

ENQUEUE_RUN = (
    """
import asyncio, json, shutil, tempfile, time
from jobs_core import BackgroundJobs, EnqueueRequest
from jobs_core.store.protocol import NewJob
"""
    + FLOW
    + """
def cpu_us(start, n):
    return (time.process_time() - start) / n * 1e6

async def main(n):
    directory = tempfile.mkdtemp(prefix="jobs-ab-enqueue-")
    jobs = BackgroundJobs(directory)
    jobs.telemetry = None

    @jobs.command
    async def noop(req: dict) -> None:
        pass

    await jobs.enqueue("noop", {{"i": -1}})  # open files, warm the statement cache
    cpu = {{}}
    t0 = time.process_time()
    for i in range(n):
        await jobs.enqueue("noop", {{"i": i}}, **flow(i))
    cpu["single"] = cpu_us(t0, n)
    t0 = time.process_time()
    for first in range(0, 10 * n, 1000):
        await jobs.enqueue_many([EnqueueRequest(command="noop", request={{"i": i}}, **flow(i))
                                 for i in range(first, first + 1000)])
    cpu["many"] = cpu_us(t0, 10 * n)
    store, now = jobs.store, jobs.clock.now_ms()
    new = [NewJob(command="noop", request_type="dict", request_body='{{"i": %d}}' % i,
                  worker="", run_after=now, retry_limit=2, timeout_secs=600.0, **flow(i))
           for i in range(1000)]
    t0 = time.process_time()
    for i in range(n):
        await store.enqueue(new[i % 1000:i % 1000 + 1], now)
    cpu["store single"] = cpu_us(t0, n)
    t0 = time.process_time()
    for _ in range(0, 10 * n, 1000):
        await store.enqueue(new, now)
    cpu["store many"] = cpu_us(t0, 10 * n)
    # Last, so that the phases before see the store a tree without it sees.
    if hasattr(jobs, "enqueue_each") and not {mixed}:  # one set of options a call
        t0 = time.process_time()
        for first in range(0, 10 * n, 1000):
            await jobs.enqueue_each("noop", [{{"i": i}} for i in range(first, first + 1000)])
        cpu["each"] = cpu_us(t0, 10 * n)
    await jobs.close()
    shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps(cpu))

asyncio.run(main({jobs}))
"""
)
ENQUEUE_PHASES = ("single", "many", "each", "store single", "store many")
"""`each`: `enqueue_each` of 1,000 requests a call, default queue, on a tree that has it."""


def run_once(
    tree: str, jobs: int, mixed: bool = False, backlog: int = 0, archive_every: int = 0,
    enqueue: bool = False,
) -> dict[str, float]:  # fmt: skip
    env = {**os.environ, "PYTHONPATH": tree}
    if enqueue:
        script = ENQUEUE_RUN.format(jobs=jobs, mixed=mixed)
    else:
        script = ONE_RUN.format(
            jobs=jobs, mixed=mixed, backlog=backlog, archive_every=archive_every
        )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tree, env=env, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--base", help="revision to compare against")
    group.add_argument("--base-dir", help="a source tree to compare against, as it is")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--mixed", action="store_true", help="the mixed flow-control workload")
    parser.add_argument(
        "--backlog", type=int, default=0, metavar="N",
        help="first queue N jobs of commands the claims do not run (older: ahead in order)",
    )  # fmt: skip
    parser.add_argument(
        "--archive-every", type=int, default=0, metavar="N",
        help="archive after every N claims (an engine's pace) instead of all at the end",
    )  # fmt: skip
    parser.add_argument(
        "--enqueue", action="store_true",
        help="the enqueue path (single and enqueue_many, public API and store) instead",
    )  # fmt: skip
    args = parser.parse_args()
    phases = ENQUEUE_PHASES if args.enqueue else PHASES
    runs: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
    with tempfile.TemporaryDirectory(prefix="jobs-ab-") as extracted:
        base_tree = args.base_dir or extracted
        if args.base:
            extract_revision(args.base, base_tree)
        trees = {"base": base_tree, "this": ROOT}
        for n in range(args.rounds):
            for name in rotated(list(trees), n):
                runs[name].append(
                    run_once(
                        trees[name],
                        args.jobs,
                        args.mixed,
                        args.backlog,
                        args.archive_every,
                        args.enqueue,
                    )
                )
                shown = ", ".join(f"{p} {runs[name][-1][p]:.2f}" for p in phases
                                  if p in runs[name][-1])  # fmt: skip
                print(f"round {n + 1} {name}: {shown} µs/job", flush=True)
    best = {  # a phase a tree has not (`each` before it existed) is left out
        name: {p: min(r[p] for r in rs) for p in phases if p in rs[0]} for name, rs in runs.items()
    }
    if not args.enqueue:
        for name in best:
            best[name]["total"] = sum(best[name][p] for p in phases)
    rows = [
        [phase, *(f"{best[t][phase]:.2f}" if phase in best[t] else "-" for t in ("base", "this")),
         f"{best['this'][phase] - best['base'][phase]:+.2f}"
         if phase in best["this"] and phase in best["base"] else "-"]
        for phase in (phases if args.enqueue else (*phases, "total"))
    ]  # fmt: skip
    workload = (
        ("enqueue, " if args.enqueue else "")
        + ("mixed" if args.mixed else "default queue")
        + (f", {args.backlog:,} queued of other commands" if args.backlog else "")
        + (f", archived every {args.archive_every} claims" if args.archive_every else "")
    )
    print(
        f"CPU µs per job ({workload}), the least of {args.rounds} rounds; "
        f"base: {args.base or args.base_dir}"
    )
    print_table(["phase", "base", "this tree", "change"], rows)
    final_line(
        {
            "base": args.base or args.base_dir,
            "mixed": args.mixed,
            "backlog": args.backlog,
            "enqueue": args.enqueue,
            "archive_every": args.archive_every,
            "best_us": best,
            "runs": runs,
        }
    )


if __name__ == "__main__":
    main()
