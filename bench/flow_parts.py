"""What each part of the mixed flow-control workload costs the SQLite store, job by job.

Usage: uv run python bench/flow_parts.py [--rounds 5] [--jobs 20000] [--only plain,mixed]
       [--ahead N] [--variant SQL] [--btrees]

`throughput.py`'s end-to-end run at the store's level: batches of 500 enqueued as the
previous ones are drained (the engine keeps up, as it does end to end), claims of 100, each
finished as completed, archived every 10 claims as an engine's passes are (`in_order`, where
the revision has it), then to the end; the process's CPU time per job of each phase (the
store's threads included: the archive copies in one of its own, `off_loop.py`). SQLite
takes one writer at a time, so end to end the producer's enqueue and the
engine's claim, finish and archive take turns: their sum is what bounds the rate. The
workload is built up one part at a time, runs alternated, least of the rounds:

- plain: the default queue (the denominator of `throughput.py`'s mixed / default);
- queues: 5 queues, taking turns (the flow claim's rounds instead of one statement);
- +limits: two of them with a concurrency limit of 50;
- +keys: a concurrency key from 2,000 users on one job in five;
- mixed: + priorities 0-3 (`throughput.py`'s mixed workload);
- priorities: the default queue with priorities 0-3 only (one statement claims).

`--ahead N`: the next batch is enqueued once no more than N jobs are queued (default 100:
one claim's worth). End to end the producer runs ahead of the engine, ~5,000 jobs queued
at its last batch (10,000 jobs), so the claims take a later batch's priorities before an
earlier one's: `--ahead 3000` is closer to that.

Beside the CPU, the pages each phase writes a 100 jobs (SQLite's `CACHE_WRITE` count of the
store's connection: exact whatever the load; the archive's copy writes its month file on
another). `--variant SQL`: statements run in each fresh store first, `;`-separated (to price
an index: `DROP INDEX ix_job_key_ready; CREATE INDEX ix_job_key_ready ON …`; a claim that
names a dropped index fails).

`--btrees`: instead, the pages each phase writes a 100 jobs by table and index (the frames
each commit appends to the WAL, mapped to their b-tree by SQLite's `dbstat` after the
phase; the store's checkpoints held off meanwhile, so no frame is overwritten), one run of
each variant.

Prints two tables and a final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import shutil
import struct
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from _common import final_line, print_table
from _pair_instr import CACHE_WRITE, _status

from jobs_core.records import JobState
from jobs_core.store.protocol import NewJob, QueueChange, Transition
from jobs_core.store.sqlite.store import SqliteStore

QUEUES = ("mail", "billing", "reports", "media", "webhooks")
NOW = 1_764_000_000_000
BATCH = 500
CLAIM = 100
PHASES = ("enqueue", "claim", "finish", "archive")
VARIANTS: dict[str, frozenset[str]] = {
    "plain": frozenset(),
    "queues": frozenset({"queues"}),
    "+limits": frozenset({"queues", "limits"}),
    "+keys": frozenset({"queues", "limits", "keys"}),
    "mixed": frozenset({"queues", "limits", "keys", "priorities"}),
    "priorities": frozenset({"priorities"}),
}


def options(i: int, parts: frozenset[str]) -> dict[str, Any]:
    """Job `i`'s flow options, as `throughput._mixed_batch` sets them."""
    found: dict[str, Any] = {}
    if "queues" in parts:
        found["queue"] = QUEUES[i % 5]
    if "priorities" in parts:
        found["priority"] = (i * 7) % 4
    if "keys" in parts and i % 10 < 2:
        found["concurrency_key"] = f"user:{i % 2000}"
    return found


def batches(n: int, parts: frozenset[str]) -> list[list[NewJob]]:
    return [
        [
            NewJob(command="noop", request_type="dict", request_body=f'{{"i": {i}}}',
                   worker="", run_after=NOW, retry_limit=2, timeout_secs=600.0,
                   **options(i, parts))
            for i in range(first, first + BATCH)
        ]
        for first in range(0, n, BATCH)
    ]  # fmt: skip


Result = tuple[dict[str, float], dict[str, float]]
"""CPU µs a job and pages written a 100 jobs, by phase."""


class Frames:
    """The pages the store's commits append to its WAL, by b-tree, phase by phase (`--btrees`):
    its checkpoints held off, so the WAL only grows."""

    def __init__(self, store: SqliteStore) -> None:
        checkpointer = store._checkpointer
        if checkpointer is not None:
            checkpointer.close()
        self.conn = store._conn
        self.wal = f"{store.path}-wal"
        self.frame = 24 + int(self.conn.execute("PRAGMA page_size").fetchone()[0])
        self.read = os.path.getsize(self.wal) if os.path.exists(self.wal) else 32
        self.by_phase: dict[str, Counter[str]] = {phase: Counter() for phase in PHASES}

    def take(self, phase: str = "") -> int:
        """Map the frames appended since the last call to `phase`; how many there were."""
        size = os.path.getsize(self.wal)
        with open(self.wal, "rb") as f:
            f.seek(self.read)
            data = f.read(size - self.read)
        self.read = size
        names = dict(self.conn.execute("SELECT pageno, name FROM dbstat").fetchall())
        pages = [struct.unpack_from(">I", data, i)[0] for i in range(0, len(data), self.frame)]
        if phase in self.by_phase:
            self.by_phase[phase].update(names.get(page, "(free)") for page in pages)
        return len(pages)


async def run(
    parts: frozenset[str], n: int, ahead: int = CLAIM, variant: str = "",
    frames: list[Frames] | None = None,
) -> Result:  # fmt: skip
    """One run in a fresh store (`frames`: given the run's `Frames`, by b-tree)."""
    directory = tempfile.mkdtemp(prefix="jobs-flow-parts-")
    try:
        return await _run_in(SqliteStore(directory), parts, n, ahead, variant, frames)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def _run_in(
    store: SqliteStore, parts: frozenset[str], n: int, ahead: int, variant: str,
    frames: list[Frames] | None,
) -> Result:  # fmt: skip
    for statement in filter(None, (s.strip() for s in variant.split(";"))):
        store._conn.execute(statement)
    pages = dict.fromkeys(PHASES, 0)
    written: Callable[..., int]
    if frames is None:

        def written(phase: str = "") -> int:
            return _status(store._conn, CACHE_WRITE, reset=True)
    else:
        frames.append(Frames(store))
        written = frames[-1].take

    if "limits" in parts:
        for name in QUEUES[:2]:
            await store.set_queue(name, QueueChange(concurrency=50), NOW)
    written()
    todo = batches(n, parts)
    cpu = dict.fromkeys(PHASES, 0)
    clock = time.process_time_ns
    # An engine's passes while it runs (in id order, where the revision has it).
    pace = (
        {"in_order": True}
        if "in_order" in inspect.signature(store.archive_finished).parameters
        else {}
    )
    done = claims = sent = 0
    while done < n:
        if sent < len(todo) and sent * BATCH - done <= ahead:
            t0, _ = clock(), written()
            await store.enqueue(todo[sent], NOW)
            cpu["enqueue"] += clock() - t0
            pages["enqueue"] += written("enqueue")
            sent += 1
        t0 = clock()
        jobs = await store.claim(owner="o", commands=["noop"], named=False, limit=CLAIM, now=NOW)
        cpu["claim"] += clock() - t0
        pages["claim"] += written("claim")
        done += len(jobs)
        ended = [
            Transition(job_id=j.id, state=JobState.COMPLETED, owner_guard="o", duration_ms=1,
                       response_type="NoneType", response_body="null", progress=1.0)
            for j in jobs
        ]  # fmt: skip
        t0 = clock()
        if ended:
            await store.finish(ended, [], NOW)
        cpu["finish"] += clock() - t0
        pages["finish"] += written("finish")
        claims += 1
        if claims % 10 == 0:
            t0 = clock()
            await store.archive_finished(NOW, 2000, **pace)
            cpu["archive"] += clock() - t0
            pages["archive"] += written("archive")
    t0 = clock()
    while await store.archive_finished(NOW, 2000):
        pass
    cpu["archive"] += clock() - t0
    pages["archive"] += written("archive")
    await store.close()
    return (
        {phase: ns / n / 1e3 for phase, ns in cpu.items()},
        {phase: k / n * 100 for phase, k in pages.items()},
    )


async def measure(
    names: list[str], rounds: int, n: int, ahead: int, variant: str
) -> dict[str, Result]:
    runs: dict[str, list[Result]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            runs[name].append(await run(VARIANTS[name], n, ahead, variant))
            print(f"round {r + 1} {name}: {sum(runs[name][-1][0].values()):.1f} µs/job", flush=True)
    return {name: min(found, key=lambda x: sum(x[0].values())) for name, found in runs.items()}


async def btrees(names: list[str], n: int, ahead: int, variant: str) -> None:
    """`--btrees`: one run of each variant, its pages a 100 jobs by phase and b-tree."""
    found: dict[str, dict[str, Counter[str]]] = {}
    for name in names:
        frames: list[Frames] = []
        await run(VARIANTS[name], n, ahead, variant, frames)
        found[name] = frames[0].by_phase
    for phase in PHASES:
        print(f"Pages written a 100 jobs by b-tree: {phase}")
        trees = sorted({t for by in found.values() for t in by[phase]},
                       key=lambda t: -max(by[phase][t] for by in found.values()))  # fmt: skip
        print_table(
            ["b-tree", *names],
            [[t, *(f"{found[name][phase][t] / n * 100:.2f}" for name in names)] for t in trees],
        )
    final_line({"bench": "flow_parts", "btrees": True, "jobs": n, "ahead": ahead,
                "variant": variant,
                "pages_per_100_jobs": {name: {phase: {t: k / n * 100 for t, k in by.items()}
                                              for phase, by in found[name].items()}
                                       for name in names}})  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--only", default=",".join(VARIANTS), help="variants, comma-separated")
    parser.add_argument(
        "--ahead", type=int, default=CLAIM, metavar="N",
        help="enqueue the next batch once no more than N jobs are queued",
    )  # fmt: skip
    parser.add_argument("--variant", default="", help="SQL run in each fresh store first")
    parser.add_argument(
        "--btrees", action="store_true", help="the pages each phase writes, by table and index"
    )
    args = parser.parse_args()
    names = [name for name in args.only.split(",") if name]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    if args.btrees:
        asyncio.run(btrees(names, args.jobs, args.ahead, args.variant))
        return
    found = asyncio.run(measure(names, args.rounds, args.jobs, args.ahead, args.variant))
    best = {name: cpu for name, (cpu, _) in found.items()}
    pages = {name: written for name, (_, written) in found.items()}
    print(
        f"CPU µs per job of the store (least of {args.rounds} rounds of {args.jobs:,} jobs, "
        f"a batch enqueued at {args.ahead:,} queued)"
    )
    base = sum(best["plain"].values()) if "plain" in best else None
    rows = []
    for name, phases in best.items():
        total = sum(phases.values())
        ratio = f"{base / total:.2f}" if base else "-"
        rows.append([name, *(f"{phases[p]:.2f}" for p in PHASES), f"{total:.2f}", ratio])
    print_table(["variant", *PHASES, "total", "plain / this"], rows)
    print("Pages written a 100 jobs (the same runs)")
    print_table(
        ["variant", *PHASES, "total"],
        [[name, *(f"{ph[p]:.1f}" for p in PHASES), f"{sum(ph.values()):.1f}"]
         for name, ph in pages.items()],
    )  # fmt: skip
    final_line({"bench": "flow_parts", "jobs": args.jobs, "rounds": args.rounds,
                "ahead": args.ahead, "variant": args.variant, "us_per_job": best,
                "pages_per_100_jobs": pages})  # fmt: skip


if __name__ == "__main__":
    main()
