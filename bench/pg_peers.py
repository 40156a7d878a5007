"""jobs beside PgQueuer on one PostgreSQL server, in one run: the ratio is measured, not quoted.

Run with `uv run --with pgqueuer==1.6.0 python bench/pg_peers.py [--store URL] [--quick]`
(PgQueuer is never a dependency of jobs). Without --store a private server is started the
way the tests start one, with the server's default durability. Each library gets a fresh
database; the consumer runs in a child process, the producer in this one, and the clock runs
from the first enqueue to the last completion of N no-op jobs:

- batched: enqueues of 500 (PgQueuer: batch_size=100, its figure to beat; jobs: enqueue_many)
- single: one awaited enqueue per job

Each figure is the median of `--rounds` runs (3), the two libraries alternating.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from _common import final_line, print_table
from _stores import Stores

from jobs_core import EnqueueRequest
from jobs_core.store.url import parse_store_url

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 500
PGQ_BATCH_SIZE = 100


# -- PgQueuer --------------------------------------------------------------------------------


async def pgq_consume(dsn: str, n: int, sync: str) -> None:
    """Child process: a PgQueuer worker that prints the time its n-th job finished. Its
    commits wait for the WAL flush or not as `sync` says (`synchronous_commit`)."""
    import asyncpg
    from pgqueuer import QueueManager
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(dsn, server_settings={"synchronous_commit": sync})
    qm = QueueManager(Queries.from_asyncpg_connection(conn))
    done = 0

    @qm.entrypoint("noop")
    async def noop(job: Any) -> None:
        nonlocal done
        done += 1
        if done == n:
            print(f"done {time.time():.6f}", flush=True)
            qm.shutdown.set()

    print("ready", flush=True)
    await qm.run(batch_size=PGQ_BATCH_SIZE)


async def pgq_produce(dsn: str, n: int, batch: int) -> float:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(dsn)
    queries = Queries(AsyncpgDriver(conn))
    start = time.time()
    try:
        for first in range(0, n, batch):
            size = min(batch, n - first)
            if size == 1:
                await queries.enqueue("noop", None)
            else:
                await queries.enqueue(["noop"] * size, [None] * size, [0] * size)
    finally:
        await conn.close()
    return start


async def pgq_install(dsn: str) -> None:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(dsn)
    try:
        await Queries(AsyncpgDriver(conn)).install()
    finally:
        await conn.close()


async def pgq_run(dsn: str, n: int, batch: int, sync: str) -> float:
    await pgq_install(dsn)
    child = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--pgq-consumer", dsn, str(n), sync],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        raise RuntimeError("the PgQueuer consumer did not start")
    await asyncio.sleep(0.5)
    start = await pgq_produce(dsn, n, batch)
    line = await asyncio.to_thread(child.stdout.readline)
    child.wait(timeout=60)
    if not line.startswith("done "):
        raise RuntimeError(f"the PgQueuer consumer stopped early (exit {child.returncode})")
    return n / (float(line.split()[1]) - start)


# -- jobs ------------------------------------------------------------------------------------


async def jobs_run(url: str, n: int, batch: int, sync: str) -> float:
    sys.path.insert(0, HERE)
    from _engine_proc import build
    from throughput import start_engine, stop_engine, wait_completed

    # The default settings (Durability.NORMAL): enqueues wait for the WAL flush, as
    # PgQueuer's do; the engine's bookkeeping does not (PgQueuer buffers its own, too).
    jobs = build(url, "NORMAL")
    await jobs.open()
    proc, _ = await start_engine(url, "NORMAL")
    await asyncio.sleep(0.5)
    try:
        start = time.perf_counter()
        last = 0
        for first in range(0, n, batch):
            size = min(batch, n - first)
            if size == 1:
                last = (await jobs.enqueue("noop", {"i": first})).id
            else:
                refs = await jobs.enqueue_many(
                    [EnqueueRequest(command="noop", request={"i": i}) for i in range(size)]
                )
                last = refs[-1].id
        await wait_completed(jobs, n, proc, last)
        return n / (time.perf_counter() - start)
    finally:
        await stop_engine(proc)
        await jobs.close()


# -- driver ----------------------------------------------------------------------------------


async def fresh_database(base: str, name: str) -> str:
    """Create database `name` on the server of `base`; its URL."""
    import asyncpg

    dsn = parse_store_url(base).dsn
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name}")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    head, _, tail = dsn.partition("?")
    return head.rsplit("/", 1)[0] + f"/{name}" + (f"?{tail}" if tail else "")


async def measure(base: str, n: int, single_n: int, rounds: int, pgq_sync: str) -> dict[str, Any]:
    """Medians of `rounds` runs of each library, alternating (PgQueuer first in even rounds,
    jobs first in odd ones), so that a busy moment of a shared machine falls on both."""
    result: dict[str, Any] = {}
    for mode, count, batch in (("batched", n, BATCH), ("single", single_n, 1)):
        runs: dict[str, list[float]] = {"pgqueuer": [], "jobs": []}
        for r in range(rounds):
            order = ("pgqueuer", "jobs") if r % 2 == 0 else ("jobs", "pgqueuer")
            for name in order:
                url = await fresh_database(base, f"peers_{name}_{mode}")
                run = pgq_run if name == "pgqueuer" else jobs_run
                runs[name].append(await run(url, count, batch, pgq_sync))
        for name, values in runs.items():
            result[f"{name}_{mode}_jobs_per_s"] = statistics.median(values)
            result[f"{name}_{mode}_runs"] = [round(v) for v in values]
        ratio = result[f"jobs_{mode}_jobs_per_s"] / result[f"pgqueuer_{mode}_jobs_per_s"]
        result[f"ratio_{mode}"] = ratio
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="pg", metavar="pg|URL")
    parser.add_argument("--quick", action="store_true", help="2,000 jobs (500 one by one), 1 round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs (median shown)")
    parser.add_argument(
        "--pgq-sync", choices=("on", "off"), default="off",
        help="synchronous_commit of PgQueuer's consumer (default off, as jobs' engine runs)",
    )  # fmt: skip
    parser.add_argument("--pgq-consumer", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pgq_consumer:
        dsn, count, sync = args.pgq_consumer
        asyncio.run(pgq_consume(dsn, int(count), sync))
        return
    n, single_n = (2_000, 500) if args.quick else (10_000, 2_000)
    stores = Stores(args.store, None)
    try:
        assert stores.base is not None
        rounds = 1 if args.quick else args.rounds
        result = asyncio.run(measure(stores.base, n, single_n, rounds, args.pgq_sync))
        where = stores.describe()
    finally:
        stores.close()
    print(f"jobs beside PgQueuer 1.6.0, end to end, no-op jobs, median of {rounds} alternating "
          f"run(s), {where}")  # fmt: skip
    print_table(
        ["mode", "jobs/s", "PgQueuer jobs/s", "ratio"],
        [
            (f"enqueue {BATCH} at a time ({n:,} jobs)", result["jobs_batched_jobs_per_s"],
             result["pgqueuer_batched_jobs_per_s"], f"{result['ratio_batched']:.2f}x"),
            (f"one awaited enqueue per job ({single_n:,})", result["jobs_single_jobs_per_s"],
             result["pgqueuer_single_jobs_per_s"], f"{result['ratio_single']:.2f}x"),
        ],
    )  # fmt: skip
    final_line({"bench": "pg_peers", "quick": args.quick, "pgq_sync": args.pgq_sync, **result})


if __name__ == "__main__":
    main()
