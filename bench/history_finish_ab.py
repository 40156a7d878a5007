"""What attempt history costs the finish statement, measured interleaved in one process:
this tree's finish against the same finish without attempt history, batch by batch.

Usage: uv run python bench/history_finish_ab.py [--stores sqlite,pg] [--jobs 30000]
           [--rounds 3] [--retry-every 10] [--quick]

Alternating runs of two trees (`history_cost.py`) see the machine's load change between
runs; here both variants run in the same process on the same store, one claimed batch of 100
each in turn, in the order ABBA (each goes first after a claim half the time), so a shared
machine's load falls on both alike. The variant without history is this tree's finish with
history's parts taken out of its SQL text at run time (the same as
`history_cost/history.patch`; a part that is no longer found stops the run): SQLite's
`_APPLY_BODY` (what `apply_transitions_sql` builds on) without `last_outcome` and the kept
`owner`, the outcome bound as NULL, and no `attempts.record`; PostgreSQL's `finish_jobs`
created a second time, as `finish_jobs_off`, without the attempt-row insert, `last_outcome`
and the kept `owner`, and called without the outcome array. Measured: SQLite, the process's
CPU time in `finish`; PostgreSQL, the server backend's CPU time (ns, from
/proc/PID/schedstat) in the call. "happy" completes every job; "retry" fails the first
attempt of one job in --retry-every. Prints a table (µs per claimed job) and a final JSON
line.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import _history_cost_run as run
from _common import REPO, data_dir, final_line, median, print_table

from jobs_core.settings import Settings
from jobs_core.store.opening import open_store
from jobs_core.store.protocol import Store, Transition

if REPO not in sys.path:
    sys.path.insert(0, REPO)  # tests.pg_server

Finisher = Callable[[list[Transition], str], Awaitable[float]]
"""Finish `transitions` with variant `this` or `off`; the CPU seconds it took."""


def without(text: str, parts: list[tuple[str, str]]) -> str:
    for old, new in parts:
        if old not in text:
            raise SystemExit(f"history_finish_ab: {old[:60]!r} is no longer in the finish SQL")
        text = text.replace(old, new)
    return text


def sqlite_finisher(store: Any) -> tuple[Finisher, Callable[[], Awaitable[None]]]:
    from jobs_core.store.sqlite import attempts, queue

    this_sql, record, values = (
        queue.apply_transitions_sql,
        attempts.record,
        queue._transition_values,
    )
    off_body = without(queue._APPLY_BODY, [
        ("owner = CASE WHEN t.state = 'queued' THEN NULL ELSE b.owner END,", "owner = NULL,"),
        ("    last_outcome = coalesce(t.outcome, b.last_outcome),\n", ""),
    ])  # fmt: skip
    this_body = queue._APPLY_BODY

    @functools.lru_cache(maxsize=64)
    def off_sql(rows: int) -> str:
        # The statement is built per row count around the body; the same without history.
        return this_sql(rows).replace(this_body, off_body)

    def off_values(t: Transition, now: int) -> list[Any]:
        found = list(values(t, now))
        found[14] = None  # the outcome
        return found

    async def finish(transitions: list[Transition], variant: str) -> float:
        off = variant == "off"
        queue.apply_transitions_sql = off_sql if off else this_sql  # type: ignore[assignment]
        attempts.record = (lambda *_: None) if off else record  # type: ignore[assignment]
        queue._transition_values = off_values if off else values  # type: ignore[assignment]
        t0 = time.process_time()
        await store.finish(transitions, [], run.NOW)
        return time.process_time() - t0

    async def restore() -> None:
        queue.apply_transitions_sql, attempts.record = this_sql, record  # type: ignore[assignment]
        queue._transition_values = values  # type: ignore[assignment]

    return finish, restore


async def pg_finisher(url: str) -> tuple[Finisher, Callable[[], Awaitable[None]]]:
    import asyncpg

    from jobs_core.store.postgres import archive, finish_sql
    from jobs_core.store.postgres.finish import _arrays
    from jobs_core.store.postgres.schema import JOB_FIELDS
    from jobs_core.store.url import parse_store_url

    ddl = finish_sql.finish_function(JOB_FIELDS)
    last = finish_sql.CHANGED["last_outcome"]
    off_ddl = without(ddl, [
        ("CREATE FUNCTION finish_jobs(", "CREATE FUNCTION finish_jobs_off("),
        (finish_sql._RECORD_ATTEMPTS, ""),
        ("CASE WHEN t.state = 'queued' THEN NULL ELSE b.owner END AS owner", "NULL AS owner"),
        ("owner = CASE WHEN t.state = 'queued' THEN NULL ELSE b.owner END", "owner = NULL"),
        (f"last_outcome = {last}, ", ""),
        (f"{last} AS last_outcome", "b.last_outcome AS last_outcome"),
    ])  # fmt: skip
    where = parse_store_url(url)
    conn = await asyncpg.connect(where.dsn, server_settings={"search_path": where.schema})
    await conn.execute(off_ddl)
    await archive.ensure_partitions(conn, [archive.month_of(run.NOW)])
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    off_sql = finish_sql.FINISH.replace("finish_jobs(", "finish_jobs_off(")
    sql = {"this": finish_sql.FINISH, "off": off_sql}

    def cpu() -> float:
        with open(f"/proc/{pid}/schedstat") as stat:
            return int(stat.read().split()[0]) / 1e9

    async def finish(transitions: list[Transition], variant: str) -> float:
        arrays = _arrays(transitions, run.NOW)
        if variant == "off":
            arrays[14] = None  # the outcomes
        t0 = cpu()
        await conn.fetchrow(sql[variant], False, 100_000, run.NOW, "jobs_ab", *arrays)
        return cpu() - t0

    return finish, conn.close


async def one_run(location: str, n: int, retry_every: int) -> dict[str, float]:
    """µs of finish per claimed job, each variant."""
    store: Store = open_store(location, Settings())
    await store.open()
    await run.enqueue(store, n)
    if location.startswith("postgresql"):
        finish, done = await pg_finisher(location)
    else:
        finish, done = sqlite_finisher(store)
    spent, count, turn = {"this": 0.0, "off": 0.0}, {"this": 0, "off": 0}, 0
    try:
        while jobs := await store.claim(
            owner=run.OWNER, commands=["noop"], named=False, limit=100, now=run.NOW
        ):
            # ABBA: whichever goes first after the claim pays what that costs (measured:
            # ~0.7 µs a job on PostgreSQL), so each goes first half the time.
            variant = ("this", "off")[(turn + turn // 2) % 2]
            turn += 1
            spent[variant] += await finish(
                [run.transition(j.id, j.attempts, retry_every) for j in jobs], variant
            )
            count[variant] += len(jobs)
    finally:
        await done()
        await store.close()
    return {v: spent[v] / count[v] * 1e6 for v in spent}


def measure(args: argparse.Namespace) -> tuple[list[list[str]], dict[str, Any]]:
    rows: list[list[str]] = []
    found: dict[str, Any] = {}
    for backend in args.stores:
        server = None
        if backend == "pg":
            from tests.pg_server import start_server

            server = start_server(durable=True)
        try:
            for workload, every in (("happy", 0), ("retry", args.retry_every)):
                runs = []
                for n in range(args.rounds):
                    runs.append(_round(server, backend, workload, n, args, every))
                this, off = median([r["this"] for r in runs]), median([r["off"] for r in runs])
                diffs = [r["this"] - r["off"] for r in runs]
                rows.append([backend, workload, f"{this:.2f}", f"{off:.2f}", f"{this - off:+.2f}",
                             " ".join(f"{d:+.2f}" for d in diffs)])  # fmt: skip
                found[f"{backend} {workload}"] = {"this": this, "off": off, "runs": runs}
        finally:
            if server is not None:
                server.stop()
    return rows, found


def _round(
    server: Any, backend: str, workload: str, n: int, args: argparse.Namespace, every: int
) -> dict[str, float]:
    if server is not None:
        got = asyncio.run(one_run(server.url(schema=f"ab_{workload}_{n}"), args.jobs, every))
    else:
        with data_dir(None, "jobs-history-finish-") as directory:
            got = asyncio.run(one_run(os.path.join(directory, "s"), args.jobs, every))
    print(f"  {backend} {workload} round {n + 1}: this {got['this']:.2f}, without history "
          f"{got['off']:.2f} µs/job", flush=True)  # fmt: skip
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=lambda t: t.split(","), default=["sqlite", "pg"])
    parser.add_argument("--jobs", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--retry-every", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="1 round of 6,000 jobs")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.jobs = 1, 6000
    rows, found = measure(args)
    print(f"\nFinish CPU µs per claimed job (SQLite: the process; PostgreSQL: the server "
          f"backend), median of {args.rounds} runs of {args.jobs:,} jobs, batches of 100 "
          "alternating between the two variants")  # fmt: skip
    print_table(["store", "workload", "this tree", "without history", "cost", "each run"], rows)
    final_line({"jobs": args.jobs, "rounds": args.rounds, "results": found})


if __name__ == "__main__":
    main()
