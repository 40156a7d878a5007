"""Soak: the chaos suite's long form. Three `jobs worker` engines, a producer and an admin
reader on one store; one engine is SIGKILLed and replaced every 0.7 s. Checks that every
job completes exactly once, no scheduled slot runs twice or is skipped, and nothing ever
reports a locked database.

`uv run python bench/soak.py` (10 minutes), `--minutes N`, `--quick` (about a minute),
`--store pg` (a private PostgreSQL) or `--store URL` (yours) instead of an SQLite directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import REPO, data_dir, final_line, percentile, print_table
from _stores import Stores

sys.path.insert(0, REPO)  # the engines run the chaos suite's app, from tests/chaos

from jobs_core import (
    BackgroundJobs,
    EnqueueRequest,
    JobFilter,
    JobsError,
    JobState,
    Schedule,
)
from tests.chaos.harness import (
    SINGLE_ROUTES,
    EnginePool,
    archived,
    archived_rows,
    live_finished,
    producer,
    slot_problems,
)

KILL_EVERY_SECS = 0.7
TASK_INTERVAL_SECS = 0.5
ROUND = 25
"""Jobs per producer round with single `enqueue` calls, and again with one `enqueue_many`."""


@dataclass
class Reader:
    """What the admin reader saw: polls, their latencies and any errors."""

    polls: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def produce(jobs: BackgroundJobs, until: float, rate: float) -> list[int]:
    """Enqueue at about `rate` jobs/s until `until`: half single enqueues (plain, with a
    priority, in a queue of their own, with a creator, in turn: `SINGLE_ROUTES`), half
    batches."""
    ids: list[int] = []
    started = time.monotonic()
    n = 0
    while time.monotonic() < until:
        for _ in range(ROUND):
            route = SINGLE_ROUTES[n % len(SINGLE_ROUTES)]
            ids.append((await jobs.enqueue("work", {"n": n, "ms": n % 20}, **route)).id)
            n += 1
        batch = [EnqueueRequest(command="work", request={"n": n + i, "ms": (n + i) % 20})
                 for i in range(ROUND)]  # fmt: skip
        ids.extend(r.id for r in await jobs.enqueue_many(batch))
        n += ROUND
        ahead = started + n / rate - time.monotonic()
        await asyncio.sleep(max(0.0, ahead))
    return ids


async def read_everything(directory: str, stop: asyncio.Event, seen: Reader) -> None:
    """An admin process's view: every list and figure the admin app shows, in turn."""
    admin = BackgroundJobs(directory, create=False, start_engine=False)
    try:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                months = await admin.months()
                await admin.list_queue(JobFilter(), limit=50)
                for m in months[:1]:
                    await admin.list_completed(m.month, limit=50)
                    await admin.list_failed(m.month, limit=50)
                await admin.counts()
                await admin.engines()
                await admin.running_jobs()
                await admin.scheduled_tasks()
            except JobsError as error:
                seen.errors.append(str(error))
            seen.polls += 1
            seen.latencies_ms.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.05)
    finally:
        await admin.close()


async def progress(pool: EnginePool, jobs: BackgroundJobs, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            async with asyncio.timeout(30):
                await stop.wait()
        except TimeoutError:
            done = (await jobs.counts())[JobState.COMPLETED]
            print(f"  ... {done:,} jobs completed, {pool.kills} kills", file=sys.stderr)


async def soak(directory: str, workdir: Path, minutes: float, rate: float) -> dict[str, Any]:
    jobs = producer(directory)
    pool = EnginePool(directory, workdir)
    seen = Reader()
    try:
        for _ in range(3):
            pool.start()
        await jobs.recurring(
            "soak",
            Schedule.interval(TASK_INTERVAL_SECS),
            "tick",
            missed="catch_up",
            overlap="allow",
        )
        stop = asyncio.Event()
        helpers = [
            asyncio.create_task(pool.keep_killing(KILL_EVERY_SECS, stop)),
            asyncio.create_task(read_everything(directory, stop, seen)),
            asyncio.create_task(progress(pool, jobs, stop)),
        ]
        started = time.monotonic()
        ids = await produce(jobs, started + minutes * 60, rate)
        stop.set()
        await asyncio.gather(*helpers)
        await jobs.pause_task("soak")
        await settle(jobs, directory)
        elapsed = time.monotonic() - started
        pool.stop_all()
        return await figures(jobs, pool, seen, ids, elapsed)
    finally:
        pool.kill_all()
        await jobs.close()


async def settle(jobs: BackgroundJobs, directory: str, timeout: float = 300.0) -> None:
    """Wait until nothing is queued or running and every finished job is archived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = await jobs.counts()
        active = counts[JobState.QUEUED] + counts[JobState.STARTED] + counts[JobState.EXECUTED]
        if active == 0 and await live_finished(directory) == 0:
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"soak: the store did not settle within {timeout:g}s")


async def figures(
    jobs: BackgroundJobs, pool: EnginePool, seen: Reader, ids: list[int], elapsed: float
) -> dict[str, Any]:
    runs = await archived(pool.directory, "completed_job")
    task_runs = [r for r in runs if r.meta.get("scheduled_task") == "soak"]
    completed = await archived_rows(pool.directory, "completed_job")
    failed = await archived_rows(pool.directory, "failed_job")
    executions = pool.executions()
    expected = set(ids) | {r.id for r in task_runs}
    slots = slot_problems(task_runs, round(TASK_INTERVAL_SECS * 1000))
    lock_errors = len(pool.lock_errors()) + sum("lock" in e.lower() for e in seen.errors)
    return {
        "minutes": round(elapsed / 60, 2),
        "jobs": len(ids),
        "jobs_per_s": len(ids) / elapsed,
        "scheduled_runs": len(task_runs),
        "kills": pool.kills,
        "engines_started": len(pool.engines),
        "reexecutions": sum(executions.values()) - len(expected),
        "reexecution_bound": pool.kills * pool.concurrency,
        "lost": len(expected - set(completed)),
        "duplicates": sum(1 for n in completed.values() if n > 1),
        "failed": len(failed),
        "never_executed": len(expected - set(executions)),
        "slots_twice": slots.twice,
        "slots_skipped": slots.skipped,
        "slots_dropped_by_catch_up_limit": slots.dropped,
        "lock_errors": lock_errors,
        "reader_polls": seen.polls,
        "reader_errors": len(seen.errors),
        "reader_p50_ms": percentile(seen.latencies_ms, 50),
        "reader_p99_ms": percentile(seen.latencies_ms, 99),
        "tracebacks": pool.output().count("Traceback"),
    }


MUST_BE_ZERO = ("lost", "duplicates", "failed", "never_executed", "slots_twice",
                "slots_skipped", "lock_errors", "reader_errors", "tracebacks")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long jobs flow")
    parser.add_argument("--quick", action="store_true", help="about a minute (smoke)")
    parser.add_argument("--rate", type=float, default=200.0, help="jobs enqueued per second")
    parser.add_argument("--dir", default=None, help="parent of the temporary data directory")
    parser.add_argument(
        "--store", default=None, metavar="pg|URL",
        help="PostgreSQL: 'pg' starts a private server, or give a postgresql:// URL",
    )  # fmt: skip
    args = parser.parse_args()
    minutes = 0.75 if args.quick else args.minutes
    stores = Stores(args.store, args.dir)
    try:
        with data_dir(args.dir, "bench-soak-") as parent, stores.fresh("bench-soak-") as store:
            if stores.backend == "sqlite":
                store = os.path.join(store, "store")
            result = asyncio.run(soak(store, Path(parent), minutes, args.rate))
        where = stores.describe()
    finally:
        stores.close()
    print(f"jobs soak on {where}: 3 engines killed every {KILL_EVERY_SECS}s, {os.cpu_count()} CPUs")
    print_table(
        ["figure", "value", "must be"],
        [(k, v, "0" if k in MUST_BE_ZERO else "") for k, v in result.items()],
    )
    bad = [k for k in MUST_BE_ZERO if result[k]]
    if result["reexecutions"] > result["reexecution_bound"]:
        bad.append("reexecutions")
    final_line(
        {"bench": "soak", "store": stores.backend, "quick": args.quick, "ok": not bad, **result}
    )
    if bad:
        raise SystemExit(f"soak: failed checks: {', '.join(bad)}")


if __name__ == "__main__":
    main()
