"""jobs beside PgQueuer on one PostgreSQL server, in one run: the ratio is measured, not quoted.

Run with `uv run --with pgqueuer==1.6.0 python bench/pg_peers.py [--store URL] [--quick]`
(PgQueuer is never a dependency of jobs). Without --store a private server is started the
way the tests start one, with the server's default durability. Each library gets a fresh
database; the consumer runs in a child process, the producer in this one, and the clock runs
from the first enqueue to the moment the consumer's N-th no-op handler has run (the consumer
prints it, for both libraries: no polling by the producer meanwhile):

- batched: enqueues of 500 (PgQueuer: batch_size=100, its figure to beat; jobs: enqueue_many)
- single: one awaited enqueue per job

Each figure is the median of `--rounds` runs (3), the two libraries alternating. Beside each
rate, the CPU a job cost in the same runs (µs, medians): the producer (this process), the
consumer (the child) and the server (every process of a local server, exited backends
included: `_pg_procs.py`; without a local server the column is 0). On a machine of two cores
the rate is bound by the sum.
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

from _common import cpu_secs, final_line, print_table
from _pg_procs import postmaster_pid, server_cpu
from _stores import Stores

from jobs_core import EnqueueRequest
from jobs_core.store.url import parse_store_url

HERE = os.path.dirname(os.path.abspath(__file__))
SIDES = ("producer", "consumer", "server")
POSTMASTER = [0]
"""The local server's postmaster (0: not on this machine, its CPU not measured)."""


class Meter:
    """The CPU of the producer (this process), a consumer process and the server over a run."""

    def __init__(self, consumer: int) -> None:
        self.consumer = consumer
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        server = server_cpu(POSTMASTER[0]) if POSTMASTER[0] else 0.0
        return {
            "producer": time.process_time(), "consumer": cpu_secs(self.consumer),
            "server": server, "wall": time.perf_counter(),
        }  # fmt: skip

    def per_job(self, n: int) -> dict[str, float]:
        """Jobs/s and µs of CPU a job since the meter started."""
        end = self._now()
        used = {side: (end[side] - self.start[side]) * 1e6 / n for side in SIDES}
        return {
            "jobs_per_s": n / (end["wall"] - self.start["wall"]),
            **{f"{side}_us": used[side] for side in SIDES}, "total_us": sum(used.values()),
        }  # fmt: skip


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


async def pgq_produce(dsn: str, n: int, batch: int) -> None:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(dsn)
    queries = Queries(AsyncpgDriver(conn))
    try:
        for first in range(0, n, batch):
            size = min(batch, n - first)
            if size == 1:
                await queries.enqueue("noop", None)
            else:
                await queries.enqueue(["noop"] * size, [None] * size, [0] * size)
    finally:
        await conn.close()


async def pgq_install(dsn: str) -> None:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(dsn)
    try:
        await Queries(AsyncpgDriver(conn)).install()
    finally:
        await conn.close()


async def pgq_run(dsn: str, n: int, batch: int, sync: str) -> dict[str, float]:
    await pgq_install(dsn)
    child = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--pgq-consumer", dsn, str(n), sync],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        raise RuntimeError("the PgQueuer consumer did not start")
    await asyncio.sleep(0.5)
    meter = Meter(child.pid)
    await pgq_produce(dsn, n, batch)
    line = await asyncio.to_thread(child.stdout.readline)
    result = meter.per_job(n)  # the consumer's shutdown is not counted
    child.wait(timeout=60)
    if not line.startswith("done "):
        raise RuntimeError(f"the PgQueuer consumer stopped early (exit {child.returncode})")
    return result


# -- jobs ------------------------------------------------------------------------------------


async def jobs_run(url: str, n: int, batch: int, sync: str) -> dict[str, float]:
    sys.path.insert(0, HERE)
    from _engine_proc import build
    from throughput import start_engine, stop_engine, wait_completed

    # The default settings (Durability.NORMAL): enqueues wait for the WAL flush, as
    # PgQueuer's do; the engine's bookkeeping does not (PgQueuer buffers its own, too).
    jobs = build(url, "NORMAL")
    await jobs.open()
    # The engine says when its n-th handler has run, as PgQueuer's consumer does: the same
    # end for both clocks, and no polling of the store by the producer meanwhile.
    os.environ["JOBS_BENCH_DONE_AT"] = str(n)
    try:
        proc, _ = await start_engine(url, "NORMAL")
    finally:
        del os.environ["JOBS_BENCH_DONE_AT"]
    assert proc.stdout is not None
    await asyncio.sleep(0.5)
    try:
        meter = Meter(proc.pid)
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
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=120)).decode()
        result = meter.per_job(n)
        if not line.startswith("done "):
            raise RuntimeError(f"the engine process stopped early (exit {proc.returncode})")
        await wait_completed(jobs, n, proc, last)  # every outcome written: not timed
        return result
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


async def local_postmaster(base: str) -> int:
    """The server's postmaster if it runs on this machine, else 0."""
    import asyncpg

    conn = await asyncpg.connect(parse_store_url(base).dsn)
    try:
        return await postmaster_pid(conn)
    except OSError:  # its backend is not in this machine's /proc
        return 0
    finally:
        await conn.close()


async def measure(
    base: str, modes: list[tuple[str, int, int]], rounds: int, pgq_sync: str
) -> dict[str, Any]:
    """Medians of `rounds` runs of each library, alternating (PgQueuer first in even rounds,
    jobs first in odd ones), so that a busy moment of a shared machine falls on both."""
    POSTMASTER[0] = await local_postmaster(base)
    result: dict[str, Any] = {}
    for mode, count, batch in modes:
        runs: dict[str, list[dict[str, float]]] = {"pgqueuer": [], "jobs": []}
        for r in range(rounds):
            order = ("pgqueuer", "jobs") if r % 2 == 0 else ("jobs", "pgqueuer")
            for name in order:
                url = await fresh_database(base, f"peers_{name}_{mode}")
                run = pgq_run if name == "pgqueuer" else jobs_run
                runs[name].append(await run(url, count, batch, pgq_sync))
        for name, done in runs.items():
            for key in done[0]:
                result[f"{name}_{mode}_{key}"] = statistics.median(d[key] for d in done)
            result[f"{name}_{mode}_runs"] = [round(d["jobs_per_s"]) for d in done]
        ratio = result[f"jobs_{mode}_jobs_per_s"] / result[f"pgqueuer_{mode}_jobs_per_s"]
        result[f"ratio_{mode}"] = ratio
    return result


def report(result: dict[str, Any], modes: list[tuple[str, int, int]]) -> None:
    """The rates and their ratio, then the CPU a job of each library."""
    labels = {"batched": f"enqueue {BATCH} at a time", "single": "one awaited enqueue per job"}
    print_table(
        ["mode", "jobs/s", "PgQueuer jobs/s", "ratio"],
        [(f"{labels[mode]} ({count:,} jobs)", result[f"jobs_{mode}_jobs_per_s"],
          result[f"pgqueuer_{mode}_jobs_per_s"], f"{result[f'ratio_{mode}']:.2f}x")
         for mode, count, _ in modes],
    )  # fmt: skip
    print()
    print_table(
        ["mode", "library", "producer µs", "consumer µs", "server µs", "total µs"],
        [(mode, name, *(f"{result[f'{name}_{mode}_{side}_us']:.1f}" for side in (*SIDES, "total")))
         for mode, _, _ in modes for name in ("jobs", "pgqueuer")],
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="pg", metavar="pg|URL")
    parser.add_argument("--quick", action="store_true", help="2,000 jobs (500 one by one), 1 round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs (median shown)")
    parser.add_argument(
        "--pgq-sync", choices=("on", "off"), default="off",
        help="synchronous_commit of PgQueuer's consumer (default off, as jobs' engine runs)",
    )  # fmt: skip
    parser.add_argument("--mode", choices=("batched", "single"), help="only this mode")
    parser.add_argument("--pgq-consumer", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pgq_consumer:
        dsn, count, sync = args.pgq_consumer
        asyncio.run(pgq_consume(dsn, int(count), sync))
        return
    n, single_n = (2_000, 500) if args.quick else (10_000, 2_000)
    modes = [("batched", n, BATCH), ("single", single_n, 1)]
    modes = [m for m in modes if args.mode in (None, m[0])]
    stores = Stores(args.store, None)
    try:
        assert stores.base is not None
        rounds = 1 if args.quick else args.rounds
        result = asyncio.run(measure(stores.base, modes, rounds, args.pgq_sync))
        where = stores.describe()
    finally:
        stores.close()
    print(f"jobs beside PgQueuer 1.6.0, end to end, no-op jobs, median of {rounds} alternating "
          f"run(s), {where}; CPU µs a job")  # fmt: skip
    report(result, modes)
    final_line({"bench": "pg_peers", "quick": args.quick, "pgq_sync": args.pgq_sync, **result})


if __name__ == "__main__":
    main()
