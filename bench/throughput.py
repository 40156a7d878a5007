"""Throughput and latency benchmark: enqueue rates, end-to-end jobs/s, enqueue→start latency."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from _common import final_line, median, percentile, print_table
from _engine_proc import build
from _stores import Stores

from jobs_core import ACTIVE_STATES, BackgroundJobs, EnqueueRequest, JobState

ENGINE_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_engine_proc.py")
POLL_SECS = 0.005
STALL_SECS = 20.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Sizes of one benchmark run (`--quick` shrinks them)."""

    stores: Stores
    runs: int
    single_n: int
    many_n: int
    many_batch: int
    e2e_n: int
    e2e_batch: int
    latency_n: int
    latency_rate: float


def config(args: argparse.Namespace) -> Config:
    stores = Stores(args.store, args.dir)
    if args.quick:
        return Config(stores=stores, runs=1, single_n=1000, many_n=10_000, many_batch=1000,
                      e2e_n=2000, e2e_batch=500, latency_n=50, latency_rate=50.0)  # fmt: skip
    return Config(stores=stores, runs=args.runs, single_n=10_000, many_n=100_000,
                  many_batch=1000, e2e_n=10_000, e2e_batch=500, latency_n=500,
                  latency_rate=50.0)  # fmt: skip


# -- enqueue without an engine --------------------------------------------------------------


async def single_enqueue(cfg: Config, durability: str) -> float:
    """Awaited one-at-a-time enqueues per second, no engine running."""
    with cfg.stores.fresh("bench-enq-", durability) as directory:
        jobs = build(directory, durability)
        await jobs.enqueue("noop", {"i": -1})  # open files, warm statement cache
        start = time.perf_counter()
        for i in range(cfg.single_n):
            await jobs.enqueue("noop", {"i": i})
        elapsed = time.perf_counter() - start
        await jobs.close()
    return cfg.single_n / elapsed


async def enqueue_many(cfg: Config, durability: str) -> float:
    """Jobs per second stored by `enqueue_many` in batches, no engine running."""
    with cfg.stores.fresh("bench-many-", durability) as directory:
        jobs = build(directory, durability)
        await jobs.enqueue("noop", {"i": -1})
        start = time.perf_counter()
        for first in range(0, cfg.many_n, cfg.many_batch):
            await jobs.enqueue_many(_batch(first, cfg.many_batch))
        elapsed = time.perf_counter() - start
        await jobs.close()
    return cfg.many_n / elapsed


async def enqueue_each(cfg: Config, durability: str) -> float:
    """Jobs per second stored by `enqueue_each` (the columnar call, as a handle's
    `enqueue_many`: one command, one set of options, request dicts made in the loop) in
    batches of the same size as `enqueue_many`'s, no engine running."""
    with cfg.stores.fresh("bench-each-", durability) as directory:
        jobs = build(directory, durability)
        await jobs.enqueue("noop", {"i": -1})
        start = time.perf_counter()
        for first in range(0, cfg.many_n, cfg.many_batch):
            await jobs.enqueue_each(
                "noop", [{"i": i} for i in range(first, first + cfg.many_batch)]
            )
        elapsed = time.perf_counter() - start
        await jobs.close()
    return cfg.many_n / elapsed


def _batch(first: int, size: int, command: str = "noop") -> list[EnqueueRequest]:
    return [EnqueueRequest(command=command, request={"i": i}) for i in range(first, first + size)]


MIXED_QUEUES = ("mail", "billing", "reports", "media", "webhooks")
MIXED_LIMITS = {"mail": 50, "billing": 50}
"""Concurrency limits of the mixed workload: held store-wide, high enough not to throttle."""


MIXED_USERS = 2000
"""Keys are `user:{i % MIXED_USERS}` on one job in five: in 10,000 jobs, 400 users with five
jobs each, 2,000 jobs apart (a user's jobs rarely meet, but never run together)."""


def _mixed_batch(first: int, size: int) -> list[EnqueueRequest]:
    """The mixed workload: 5 queues (two with a concurrency limit), priorities 0-3, and a
    concurrency key (limit 1) on one job in five."""
    return [
        EnqueueRequest(
            command="noop",
            request={"i": i},
            queue=MIXED_QUEUES[i % 5],
            priority=(i * 7) % 4,
            concurrency_key=f"user:{i % MIXED_USERS}" if i % 10 < 2 else None,
        )
        for i in range(first, first + size)
    ]


def tail_ids(requests: Sequence[EnqueueRequest], refs: Sequence[Any]) -> list[int]:
    """The ids `wait_completed` waits for after the last batch (`requests`, enqueued as
    `refs`): its last job of each queue and priority. A queue runs its jobs by priority, so
    with the mixed workload the last job enqueued often ends long before the run does, and
    the count every 5 ms that followed cost the server ~5 ms each (bench/README.md, issue
    10's ninth pass); the job that ends last is one of these (a key's parking aside: the
    count after them still waits for every job)."""
    last = {(r.queue, r.priority): ref.id for r, ref in zip(requests, refs, strict=True)}
    return sorted(last.values())


async def _mixed_setup(jobs: BackgroundJobs) -> None:
    for name, limit in MIXED_LIMITS.items():
        await jobs.set_queue(name, concurrency=limit)


# -- engine in another process --------------------------------------------------------------


async def start_engine(directory: str, durability: str) -> tuple[asyncio.subprocess.Process, float]:
    """Start `_engine_proc.py`; returns the process and the wall time it started its engine."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, ENGINE_SCRIPT, directory, durability, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    line = (await proc.stdout.readline()).decode().split()
    if not line or line[0] != "ready":
        raise RuntimeError(f"engine process did not start: {line!r}")
    return proc, float(line[1])


async def stop_engine(proc: asyncio.subprocess.Process) -> int:
    """Stop the engine process; returns how many benchmark handlers ran in it."""
    proc.terminate()
    assert proc.stdout is not None
    out = (await asyncio.wait_for(proc.stdout.read(), timeout=60)).decode()
    await asyncio.wait_for(proc.wait(), timeout=60)
    ran = [line.split()[1] for line in out.splitlines() if line.startswith("ran ")]
    if not ran:
        raise RuntimeError(f"the engine process did not say how many jobs it ran: {out!r}")
    return int(ran[0])


async def wait_completed(
    jobs: BackgroundJobs, n: int, proc: asyncio.subprocess.Process | None = None,
    last_id: int | Sequence[int] | None = None,
) -> None:  # fmt: skip
    """Poll `counts()` every 5 ms until `n` jobs have completed; fail if progress stalls.

    With `last_id`, first wait (by cheap id lookups) for the last job enqueued to finish, or
    for each of several (`tail_ids`): counting every 5 ms would load a PostgreSQL server with
    a count of the whole queue.
    """
    waiting = [last_id] if isinstance(last_id, int) else list(last_id or ())
    while waiting:
        found = await jobs.store.get_job(waiting[0])
        if found is not None and found.state not in ACTIVE_STATES:
            waiting.pop(0)
            continue
        if proc is not None and proc.returncode is not None:
            break
        await asyncio.sleep(POLL_SECS)
    done, last_progress = 0, time.monotonic()
    while done < n:
        await asyncio.sleep(POLL_SECS)
        now_done = (await jobs.counts())[JobState.COMPLETED]
        if now_done != done:
            done, last_progress = now_done, time.monotonic()
        if proc is not None and proc.returncode is not None:
            raise RuntimeError(f"the engine process exited ({proc.returncode}) at {done}/{n}")
        if time.monotonic() - last_progress > STALL_SECS:
            raise TimeoutError(f"no job completed for {STALL_SECS:g}s ({done}/{n} done)")


async def end_to_end(cfg: Config, durability: str, mixed: bool = False) -> tuple[float, float]:
    """(jobs/s from first enqueue to last completion, enqueue-only jobs/s), engine elsewhere;
    `mixed`: the mixed workload (queues, priorities, keys) instead of the default queue."""
    batch = _mixed_batch if mixed else _batch
    with cfg.stores.fresh("bench-e2e-", durability) as directory:
        jobs = build(directory, durability)
        if mixed:
            await _mixed_setup(jobs)
        proc, _ = await start_engine(directory, durability)
        await asyncio.sleep(0.5)  # let the engine register and reach its poll loop
        try:
            start = time.perf_counter()
            for first in range(0, cfg.e2e_n, cfg.e2e_batch):
                requests = batch(first, cfg.e2e_batch)
                refs = await jobs.enqueue_many(requests)
            enqueued = time.perf_counter() - start
            await wait_completed(jobs, cfg.e2e_n, proc, tail_ids(requests, refs))
            elapsed = time.perf_counter() - start
        finally:
            await stop_engine(proc)
            await jobs.close()
    return cfg.e2e_n / elapsed, cfg.e2e_n / enqueued


async def engine_drain(cfg: Config, durability: str, mixed: bool = False) -> float:
    """Jobs/s of the engine alone: enqueue everything, then start the engine and time it."""
    batch = _mixed_batch if mixed else _batch
    with cfg.stores.fresh("bench-drain-", durability) as directory:
        jobs = build(directory, durability)
        if mixed:
            await _mixed_setup(jobs)
        for first in range(0, cfg.e2e_n, cfg.e2e_batch):
            requests = batch(first, cfg.e2e_batch)
            refs = await jobs.enqueue_many(requests)
        proc, started = await start_engine(directory, durability)
        try:
            await wait_completed(jobs, cfg.e2e_n, proc, tail_ids(requests, refs))
            elapsed = time.time() - started
        finally:
            await stop_engine(proc)
            await jobs.close()
    return cfg.e2e_n / elapsed


# -- latency --------------------------------------------------------------------------------


async def paced_stamps(cfg: Config, jobs: BackgroundJobs) -> list[int]:
    """Enqueue `stamp` jobs on a fixed schedule; returns their ids."""
    ids: list[int] = []
    start = time.perf_counter()
    for i in range(cfg.latency_n):
        delay = start + i / cfg.latency_rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        ref = await jobs.enqueue("stamp", {"sent_ns": time.time_ns()})
        ids.append(ref.id)
    return ids


async def read_latencies(jobs: BackgroundJobs, ids: list[int]) -> list[float]:
    """Enqueue→start latencies in ms, from the results the `stamp` jobs returned."""
    latencies: list[float] = []
    for job_id in ids:
        found = await jobs.get_job(job_id)
        job = found.completed or found.queued
        assert job is not None and job.response_body is not None, f"job {job_id} has no result"
        latencies.append(json.loads(job.response_body)["lat_ns"] / 1e6)
    return latencies


async def latency_cross(cfg: Config) -> list[float]:
    with cfg.stores.fresh("bench-lat-") as directory:
        jobs = build(directory, "NORMAL")
        proc, _ = await start_engine(directory, "NORMAL")
        await asyncio.sleep(0.5)
        try:
            ids = await paced_stamps(cfg, jobs)
            await wait_completed(jobs, cfg.latency_n, proc, ids[-1])
            return await read_latencies(jobs, ids)
        finally:
            await stop_engine(proc)
            await jobs.close()


async def latency_inproc(cfg: Config) -> list[float]:
    with cfg.stores.fresh("bench-latin-") as directory:
        jobs = build(directory, "NORMAL")
        async with jobs:
            await asyncio.sleep(0.2)
            ids = await paced_stamps(cfg, jobs)
            await wait_completed(jobs, cfg.latency_n, None, ids[-1])
            latencies = await read_latencies(jobs, ids)
    return latencies


# -- driver ---------------------------------------------------------------------------------


async def repeat(runs: int, fn: Callable[[], Awaitable[Any]]) -> list[Any]:
    return [await fn() for _ in range(runs)]


async def measure_mixed(cfg: Config, r: dict[str, Any]) -> None:
    """The mixed workload beside the plain one, runs interleaved so that both see the same
    machine; its ratio to the plain figure is what flow control costs."""
    plain: list[float] = []
    mixed: list[float] = []
    for _ in range(cfg.runs):
        plain.append((await end_to_end(cfg, "NORMAL"))[0])
        mixed.append((await end_to_end(cfg, "NORMAL", mixed=True))[0])
    r["e2e_plain_paired_jobs_per_s_NORMAL"] = median(plain)
    r["e2e_mixed_jobs_per_s_NORMAL"] = median(mixed)
    r["e2e_mixed_vs_plain"] = median(mixed) / median(plain)
    # The spread of one pair's ratio: a run of 10,000 jobs swings by ±15% on a shared host,
    # and the ratio of the medians of 9 pairs moves by about ±0.05 (bench/README, issue 10's
    # sixteenth pass).
    ratios = [m / p for m, p in zip(mixed, plain, strict=True)]
    r["e2e_mixed_vs_plain_pair_lowest"] = min(ratios)
    r["e2e_mixed_vs_plain_pair_highest"] = max(ratios)
    r["engine_drain_mixed_jobs_per_s_NORMAL"] = median(
        await repeat(cfg.runs, lambda: engine_drain(cfg, "NORMAL", mixed=True))
    )


async def measure_mixed_only(cfg: Config) -> dict[str, Any]:
    r: dict[str, Any] = {}
    await measure_mixed(cfg, r)
    return r


async def measure(cfg: Config) -> dict[str, Any]:
    """Every metric, each the median of `cfg.runs` runs."""
    r: dict[str, Any] = {}
    for d in ("NORMAL", "FULL"):
        r[f"single_enqueue_per_s_{d}"] = median(
            await repeat(cfg.runs, lambda d=d: single_enqueue(cfg, d))  # type: ignore[misc]
        )
    r["enqueue_many_per_s_NORMAL"] = median(
        await repeat(cfg.runs, lambda: enqueue_many(cfg, "NORMAL"))
    )
    r["enqueue_each_per_s_NORMAL"] = median(
        await repeat(cfg.runs, lambda: enqueue_each(cfg, "NORMAL"))
    )
    for d in ("NORMAL", "FULL"):
        pairs = await repeat(cfg.runs, lambda d=d: end_to_end(cfg, d))  # type: ignore[misc]
        r[f"e2e_jobs_per_s_{d}"] = median([p[0] for p in pairs])
        r[f"e2e_producer_enqueue_per_s_{d}"] = median([p[1] for p in pairs])
        r[f"engine_drain_jobs_per_s_{d}"] = median(
            await repeat(cfg.runs, lambda d=d: engine_drain(cfg, d))  # type: ignore[misc]
        )
    await measure_mixed(cfg, r)
    for name, fn in (("cross", latency_cross), ("inproc", latency_inproc)):
        runs = await repeat(cfg.runs, lambda fn=fn: fn(cfg))  # type: ignore[misc]
        for q in (50, 99):
            r[f"latency_{name}_p{q}_ms"] = median([percentile(v, q) for v in runs])
        r[f"latency_{name}_max_ms"] = median([max(v) for v in runs])
    return r


ENQUEUE_ROWS = (
    "enqueue rows: `enqueue_many` is `jobs.enqueue_many(list of EnqueueRequest)`, a record "
    'a job made by the caller; `enqueue_each` is `jobs.enqueue_each("noop", requests)`, '
    "one command and one set of options for the batch (what a command handle's "
    "`enqueue_many(requests, **options)` calls): no record a job"
)
HUEY_E2E = "huey 2,094/s (9,514 no fsync)"
OTHERS = "other references, end to end: RQ+Redis 869/s; procrastinate+PostgreSQL 511/s"
PG_OTHERS = (
    "PostgreSQL peers on this machine, 10k no-op jobs end to end: PgQueuer 1.6.0 11,329/s "
    "batched (1,359/s one enqueue per job), oban-py 1,215/s, procrastinate 407/s; "
    "bench/pg_peers.py measures PgQueuer beside us on one server"
)
PGQ_SINGLE, PGQ_BATCHED = "PgQueuer 1,360/s", "PgQueuer 11,329/s"
PG_ROWS: list[tuple[str, str, str, str]] = [
    # NORMAL = synchronous_commit off, FULL = the server's default (on)
    ("single_enqueue_per_s_NORMAL", "single enqueue/s, sync commit off", "> 1,360", PGQ_SINGLE),
    ("single_enqueue_per_s_FULL", "single enqueue/s, sync commit on", "> 1,360", PGQ_SINGLE),
    ("enqueue_many_per_s_NORMAL", "enqueue_many jobs/s, sync off (EnqueueRequests)", "-",
     "~49k/s batched inserts"),
    ("enqueue_each_per_s_NORMAL", "enqueue_each jobs/s, sync off (columns)", "-", "-"),
    ("e2e_jobs_per_s_NORMAL", "end to end jobs/s, sync off (2 procs)", ">= 17,000", PGQ_BATCHED),
    ("e2e_producer_enqueue_per_s_NORMAL", "  producer enqueue part, jobs/s", "-", "-"),
    ("engine_drain_jobs_per_s_NORMAL", "  engine drain alone, jobs/s", "-", "-"),
    ("e2e_jobs_per_s_FULL", "end to end jobs/s, sync on (2 procs)", ">= 17,000", PGQ_BATCHED),
    ("e2e_producer_enqueue_per_s_FULL", "  producer enqueue part, jobs/s", "-", "-"),
    ("engine_drain_jobs_per_s_FULL", "  engine drain alone, jobs/s", "-", "-"),
    ("e2e_plain_paired_jobs_per_s_NORMAL", "end to end, default queue (paired run)", "-", "-"),
    ("e2e_mixed_jobs_per_s_NORMAL", "end to end, mixed: 5 queues, priorities, keys", "-", "-"),
    ("e2e_mixed_vs_plain", "  mixed / default queue", ">= 0.90", "-"),
    ("e2e_mixed_vs_plain_pair_lowest", "    one pair's ratio, lowest", "-", "-"),
    ("e2e_mixed_vs_plain_pair_highest", "    one pair's ratio, highest", "-", "-"),
    ("engine_drain_mixed_jobs_per_s_NORMAL", "  engine drain alone, mixed, jobs/s", "-", "-"),
    ("latency_cross_p50_ms", "latency p50 ms, 2 procs, 50/s", "<= 2", "-"),
    ("latency_cross_p99_ms", "latency p99 ms, 2 procs, 50/s", "-", "-"),
    ("latency_cross_max_ms", "latency max ms, 2 procs, 50/s", "-", "-"),
    ("latency_inproc_p50_ms", "latency p50 ms, 1 proc, 50/s", "-", "-"),
    ("latency_inproc_p99_ms", "latency p99 ms, 1 proc, 50/s", "-", "-"),
    ("latency_inproc_max_ms", "latency max ms, 1 proc, 50/s", "-", "-"),
]  # fmt: skip
ROWS: list[tuple[str, str, str, str]] = [
    # (key, label, target, reference)
    ("single_enqueue_per_s_NORMAL", "single enqueue/s NORMAL", ">= 20,000", "huey 7,075/s"),
    ("single_enqueue_per_s_FULL", "single enqueue/s FULL", "-", "huey 7,075/s"),
    (
        "enqueue_many_per_s_NORMAL",
        "enqueue_many jobs/s NORMAL (EnqueueRequests)",
        ">= 200,000",
        "-",
    ),
    ("enqueue_each_per_s_NORMAL", "enqueue_each jobs/s NORMAL (columns)", ">= 200,000", "-"),
    ("e2e_jobs_per_s_NORMAL", "end to end jobs/s NORMAL (2 procs)", ">= 14,000", HUEY_E2E),
    ("e2e_producer_enqueue_per_s_NORMAL", "  producer enqueue part, jobs/s", "-", "-"),
    ("engine_drain_jobs_per_s_NORMAL", "  engine drain alone, jobs/s", "-", "-"),
    ("e2e_jobs_per_s_FULL", "end to end jobs/s FULL (2 procs)", ">= 4,200", "huey 2,094/s"),
    ("e2e_producer_enqueue_per_s_FULL", "  producer enqueue part, jobs/s", "-", "-"),
    ("engine_drain_jobs_per_s_FULL", "  engine drain alone, jobs/s", "-", "-"),
    ("e2e_plain_paired_jobs_per_s_NORMAL", "end to end, default queue (paired run)", "-", "-"),
    ("e2e_mixed_jobs_per_s_NORMAL", "end to end, mixed: 5 queues, priorities, keys", "-", "-"),
    ("e2e_mixed_vs_plain", "  mixed / default queue", ">= 0.90", "-"),
    ("e2e_mixed_vs_plain_pair_lowest", "    one pair's ratio, lowest", "-", "-"),
    ("e2e_mixed_vs_plain_pair_highest", "    one pair's ratio, highest", "-", "-"),
    ("engine_drain_mixed_jobs_per_s_NORMAL", "  engine drain alone, mixed, jobs/s", "-", "-"),
    ("latency_cross_p50_ms", "latency p50 ms, 2 procs, 50/s", "<= 5", "huey 23-54 ms"),
    ("latency_cross_p99_ms", "latency p99 ms, 2 procs, 50/s", "<= 20", "-"),
    ("latency_cross_max_ms", "latency max ms, 2 procs, 50/s", "-", "-"),
    ("latency_inproc_p50_ms", "latency p50 ms, 1 proc, 50/s", "<= 1", "-"),
    ("latency_inproc_p99_ms", "latency p99 ms, 1 proc, 50/s", "-", "-"),
    ("latency_inproc_max_ms", "latency max ms, 1 proc, 50/s", "-", "-"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run (smoke)")
    parser.add_argument("--runs", type=int, default=3, help="runs per metric (median reported)")
    parser.add_argument("--dir", default=None, help="parent of the temporary data directories")
    parser.add_argument(
        "--mixed-only", action="store_true",
        help="only the flow-control comparison: default queue against the mixed workload",
    )  # fmt: skip
    parser.add_argument(
        "--store", default=None, metavar="pg|URL",
        help="PostgreSQL: 'pg' starts a private server, a postgresql:// URL uses that server",
    )  # fmt: skip
    args = parser.parse_args()
    cfg = config(args)
    try:
        result = asyncio.run(measure_mixed_only(cfg) if args.mixed_only else measure(cfg))
        where = cfg.stores.describe()
    finally:
        cfg.stores.close()
    import jobs_core

    print(f"jobs throughput benchmark: median of {cfg.runs} run(s), {os.cpu_count()} CPUs, "
          f"{where}, jobs_core from {os.path.dirname(jobs_core.__file__)}")  # fmt: skip
    postgres = cfg.stores.backend == "postgres"
    print_table(
        ["metric", "value", "target", "reference"],
        [(label, result[key], target, ref) for key, label, target, ref in
         (PG_ROWS if postgres else ROWS) if key in result],
    )  # fmt: skip
    if "enqueue_each_per_s_NORMAL" in result:
        print(ENQUEUE_ROWS)
    print(PG_OTHERS if postgres else OTHERS)
    final_line({"bench": "throughput", "store": cfg.stores.backend,
                "quick": cfg.runs == 1 and cfg.e2e_n < 10_000,
                "runs": cfg.runs, **{k: round(v, 3) for k, v in result.items()}})  # fmt: skip


if __name__ == "__main__":
    main()
