"""What a WAL that is overwritten saves an awaited commit, against one that grows: a bare
SQLite loop and the store's producer alone, alternating.

Usage: uv run python bench/wal_rewind.py [--rounds 3] [--commits 6000] [--enqueues 10000]
       [--durability FULL|NORMAL]

- bare SQLite: BEGIN IMMEDIATE, one INSERT into a table with a partial index, COMMIT, at the
  durability given, with `wal_autocheckpoint` off (the WAL only grows: every commit appends)
  and with its default of 1,000 pages (the committing connection checkpoints, and with no
  other writer the next commit starts the WAL over: commits overwrite it);
- the store: one producer awaiting `enqueue` per job, no engine, with the writer's rewind
  (`Checkpointer.rewind`, what `jobs` does) and without it (`REWIND_TRIES = 0`: only the
  checkpointer thread's RESTART, which a producer committing back to back seldom lets in).
  The first half of the enqueues is not timed (the WAL grows to its first rewind then).
  Each job is a named worker's (`TO_JOBS_DB`): a plain job goes to the inbox (`jobs.inbox`,
  since the thirteenth pass), whose WAL the rewind is not about; this one is inserted in
  `jobs.db` as every job was when the tool was written.

Prints a table (medians of the rounds; CPU is the process's, fsync's kernel time included)
and a final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import time
from typing import Any

from _common import data_dir, final_line, median, print_table

from jobs_core import BackgroundJobs, Durability, Settings
from jobs_core.store.sqlite import checkpointer

SYNC = {"FULL": 2, "NORMAL": 1}
TO_JOBS_DB: dict[str, Any] = {"worker": "wal_rewind"}
"""An option that keeps a job out of the inbox (`queue.inbox_route`) and looks nothing up:
the producer's commits are `jobs.db`'s, whose WAL is rewound. (`created_by` until the inbox
carried it, the seventeenth pass.)"""


def bare(
    parent: str | None, durability: str, commits: int, autocheckpoint: int
) -> dict[str, float]:
    with data_dir(parent, "wal-rewind-") as directory:
        path = os.path.join(directory, "t.db")
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA page_size = 2048")
        conn.execute("PRAGMA journal_mode = wal")
        conn.execute(f"PRAGMA synchronous = {SYNC[durability]}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {autocheckpoint}")
        conn.execute("CREATE TABLE j (id INTEGER PRIMARY KEY, body BLOB, state INT, due INT)")
        conn.execute("CREATE INDEX ix_ready ON j (due, id) WHERE state = 0")
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(commits):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO j (body, state, due) VALUES (?, 0, ?)", (b"{}" * 20, i))
            conn.execute("COMMIT")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        wal_mb = os.path.getsize(path + "-wal") / 1e6
        conn.close()
    return {"per_s": commits / wall, "cpu_us": cpu / commits * 1e6, "wal_mb": wal_mb}


def store(parent: str | None, durability: str, enqueues: int, rewind: bool) -> dict[str, float]:
    async def run() -> dict[str, float]:
        with data_dir(parent, "wal-rewind-") as directory:
            jobs = BackgroundJobs(directory, settings=Settings(durability=Durability(durability)))
            jobs.command(name="noop")(lambda req: None)
            wal = os.path.join(directory, "jobs.db-wal")
            try:
                for i in range(enqueues // 2):
                    await jobs.enqueue("noop", {"i": i}, **TO_JOBS_DB)
                largest = 0
                cpu, wall = time.process_time(), time.perf_counter()
                for i in range(enqueues // 2, enqueues):
                    await jobs.enqueue("noop", {"i": i}, **TO_JOBS_DB)
                    if i % 500 == 0:
                        largest = max(largest, os.path.getsize(wal))
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            finally:
                await jobs.close()
        timed = enqueues - enqueues // 2
        return {"per_s": timed / wall, "cpu_us": cpu / timed * 1e6, "wal_mb": largest / 1e6}

    tries = checkpointer.REWIND_TRIES
    checkpointer.REWIND_TRIES = tries if rewind else 0
    try:
        return asyncio.run(run())
    finally:
        checkpointer.REWIND_TRIES = tries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--commits", type=int, default=6000)
    parser.add_argument("--enqueues", type=int, default=10000)
    parser.add_argument("--durability", choices=sorted(SYNC), default="FULL")
    parser.add_argument("--parent", default=None, help="where the data directories go")
    args = parser.parse_args()
    d = args.durability
    cases = {
        "bare_appended": (
            "bare SQLite, WAL appended",
            lambda: bare(args.parent, d, args.commits, 0),
        ),
        "bare_overwritten": (
            "bare SQLite, WAL overwritten",
            lambda: bare(args.parent, d, args.commits, 1000),
        ),
        "store_thread_only": (
            "store, checkpointer thread only",
            lambda: store(args.parent, d, args.enqueues, False),
        ),
        "store_writer_rewinds": (
            "store, writer rewinds (jobs)",
            lambda: store(args.parent, d, args.enqueues, True),
        ),
    }
    runs: dict[str, list[dict[str, float]]] = {key: [] for key in cases}
    for n in range(args.rounds):
        for key in list(cases) if n % 2 == 0 else list(reversed(cases)):
            label, measure = cases[key]
            r = measure()
            runs[key].append(r)
            print(f"  round {n + 1}/{args.rounds} {label}: {r['per_s']:,.0f}/s, "
                  f"{r['cpu_us']:.0f} µs CPU, WAL {r['wal_mb']:.1f} MB", flush=True)  # fmt: skip
    rows = []
    result: dict[str, Any] = {"bench": "wal_rewind", "durability": d, "rounds": args.rounds}
    for key, measured in runs.items():
        per_s = median([m["per_s"] for m in measured])
        cpu = median([m["cpu_us"] for m in measured])
        wal = max(m["wal_mb"] for m in measured)
        rows.append((cases[key][0], f"{per_s:,.0f}", f"{cpu:.0f}", f"{wal:.1f}"))
        result[f"{key}_per_s"] = per_s
        result[f"{key}_cpu_us"] = cpu
    print(f"awaited commits at {d}: median of {args.rounds} alternating rounds")
    print_table(["case", "commits/s", "CPU µs each", "largest WAL MB"], rows)
    final_line(result)


if __name__ == "__main__":
    main()
