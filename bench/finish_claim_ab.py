"""The engine's two writes a dispatch turn on SQLite, three ways, interleaved in one process:
`finish` then `claim` with the general finish statement (as before issue 13's sixth pass),
the same with the statement for plain completions, and `finish_and_claim` (one transaction).

Usage: uv run python bench/finish_claim_ab.py [--jobs 20000] [--rounds 3] [--quick]

Alternating runs of two trees see the machine's load change between runs; here each variant
has a store of its own in this process, all filled alike, and each in turn writes the
outcomes of its last claimed batch of 100 (completed, no logs: a no-op job's) and claims the
next, the order rotated every turn, so a shared machine's load falls on all alike. "two
calls, general" forces the general statement for every chunk (`queue._completes_only` made
false for its turns). CPU time of the process (the WAL checkpointer's thread included) per
job, claim and outcome write together; the archive runs every 20 turns, not counted. Prints
a table (median of the rounds) and a final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _common import final_line, median, print_table

from jobs_core.records import Job, JobState
from jobs_core.store.protocol import NewJob, Transition
from jobs_core.store.sqlite import queue
from jobs_core.store.sqlite.store import SqliteStore

NOW = 1_764_000_000_000
OWNER = "host-1234567:12345:abcdef12"
BATCH = 100
VARIANTS = ("two calls, general", "two calls, completions", "finish_and_claim")
COMPLETES_ONLY = queue._completes_only


def completed(jobs: list[Job]) -> list[Transition]:
    return [
        Transition(job_id=j.id, state=JobState.COMPLETED, owner_guard=OWNER, duration_ms=1,
                   response_type="NoneType", response_body="null", progress=1.0)
        for j in jobs
    ]  # fmt: skip


async def claim(store: SqliteStore) -> list[Job]:
    return await store.claim(owner=OWNER, commands=["noop"], named=False, limit=BATCH, now=NOW)


def turn(variant: str, store: SqliteStore) -> Callable[[list[Job]], Awaitable[list[Job]]]:
    """One dispatch turn's writes of `variant`: the outcomes of `jobs`, the next claim."""

    async def two_calls(jobs: list[Job]) -> list[Job]:
        general = variant == "two calls, general"
        queue._completes_only = (lambda t: False) if general else COMPLETES_ONLY
        try:
            await store.finish(completed(jobs), [], NOW)
        finally:
            queue._completes_only = COMPLETES_ONLY
        return await claim(store)

    async def one_call(jobs: list[Job]) -> list[Job]:
        _, claimed = await store.finish_and_claim(
            completed(jobs), [], NOW, owner=OWNER, commands=["noop"], limit=BATCH
        )
        return claimed

    return one_call if variant == "finish_and_claim" else two_calls


async def one_round(n: int) -> dict[str, float]:
    dirs = {v: tempfile.mkdtemp(prefix="jobs-finish-claim-") for v in VARIANTS}
    stores = {v: SqliteStore(d) for v, d in dirs.items()}
    try:
        for store in stores.values():
            for first in range(0, n, 1000):
                await store.enqueue([
                    NewJob(command="noop", request_type="dict", request_body=f'{{"i": {i}}}',
                           worker="", run_after=NOW, retry_limit=2, timeout_secs=600.0)
                    for i in range(first, first + 1000)], NOW)  # fmt: skip
        pending = {v: await claim(s) for v, s in stores.items()}
        turns = {v: turn(v, s) for v, s in stores.items()}
        cpu = dict.fromkeys(VARIANTS, 0.0)
        order = list(VARIANTS)
        done = 0
        while any(pending.values()):
            for variant in order:
                if pending[variant]:
                    t0 = time.process_time()
                    pending[variant] = await turns[variant](pending[variant])
                    cpu[variant] += time.process_time() - t0
            order = order[1:] + order[:1]
            done += 1
            if done % 20 == 0:
                for store in stores.values():
                    await store.archive_finished(NOW, 2000)
        return {v: secs / n * 1e6 for v, secs in cpu.items()}
    finally:
        for store in stores.values():
            await store.close()
        for d in dirs.values():
            shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round of 3,000 jobs")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.jobs = 1, 3000
    rounds: list[dict[str, float]] = []
    for r in range(args.rounds):
        rounds.append(asyncio.run(one_round(args.jobs)))
        print(f"round {r + 1}: " + ", ".join(f"{v} {us:.2f}" for v, us in rounds[-1].items()))
    medians: dict[str, Any] = {v: median([r[v] for r in rounds]) for v in VARIANTS}
    first = medians[VARIANTS[0]]
    print(f"CPU µs per job, claim and outcome write, median of {args.rounds} rounds "
          f"of {args.jobs:,} jobs")  # fmt: skip
    print_table(
        ("variant", "µs a job", "change"),
        [(v, f"{medians[v]:.2f}", f"{medians[v] - first:+.2f}") for v in VARIANTS],
    )
    final_line({"jobs": args.jobs, "rounds": rounds, "medians_us": medians})


if __name__ == "__main__":
    main()
