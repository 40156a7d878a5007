"""Cost as the store grows: end-to-end rate with jobs already archived or queued, and the
engine's memory with a large queue and over a million jobs processed.

Run: `uv run python bench/growth.py [--quick] [--runs N] [--stores-only]`. The engine runs in
its own process (`_engine_proc.py`, NORMAL durability), the producer enqueues in batches of 500 as
`throughput.py` does. Archived jobs are seeded with SQL (`_seed_archive.py`): completed and
failed jobs in this month's file, their summaries in the live store.

Measured:
- end-to-end jobs/s for N new jobs on an empty store, and with 10k, 100k and 1M archived,
  and with 100k queued that this engine does not take (another command) or not yet (due
  tomorrow); each run measures every store once, the order rotating between runs;
- a backlog of 100k runnable jobs drained: jobs/s and the engine's RSS as it starts and at
  its peak;
- 1M jobs (200k with --quick) through one engine, the producer keeping the backlog under
  50k: the engine's RSS after each tenth and the rate of each tenth (flat: no leak, no
  slowdown as the month file grows).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from _common import data_dir, final_line, median, print_table, rss_mb
from _engine_proc import build
from _seed_archive import COMMANDS, seed_archive
from throughput import _batch, start_engine, stop_engine, wait_completed

from jobs_core import BackgroundJobs, EnqueueRequest, JobState

SETTLE_SECS = 0.5
BACKLOG_MAX = 50_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Sizes of one benchmark run (`--quick` shrinks them)."""

    parent: str | None
    runs: int
    n: int
    archived: tuple[int, ...]
    queued: int
    processed: int


def config(args: argparse.Namespace) -> Config:
    if args.quick:
        return Config(parent=args.dir, runs=1, n=5000, archived=(10_000, 100_000),
                      queued=20_000, processed=200_000)  # fmt: skip
    return Config(parent=args.dir, runs=args.runs, n=10_000,
                  archived=(10_000, 100_000, 1_000_000), queued=100_000,
                  processed=1_000_000)  # fmt: skip


# -- stores ---------------------------------------------------------------------------------

Seed = Callable[[str], Awaitable[None]]


def archived(n: int) -> Seed:
    async def seed(directory: str) -> None:
        jobs = BackgroundJobs(directory)
        await jobs.close()
        seed_archive(directory, n, int(time.time() * 1000))

    return seed


def queued(n: int, *, later: bool) -> Seed:
    """`n` queued jobs: no-ops due tomorrow, or jobs of commands the engine does not run."""

    async def seed(directory: str) -> None:
        jobs = BackgroundJobs(directory)
        for name in COMMANDS:
            jobs.command(name)(_noop)
        tomorrow = timedelta(days=1)
        for first in range(0, n, 1000):
            await jobs.enqueue_many([
                EnqueueRequest(command="cmd_0", request={"i": i}, run_after=tomorrow)
                if later else EnqueueRequest(command=COMMANDS[i % 10], request={"i": i})
                for i in range(first, min(n, first + 1000))
            ])  # fmt: skip
        await jobs.close()

    return seed


async def _noop(req: dict[str, Any]) -> None:
    return None


async def empty(directory: str) -> None:
    return None


# -- measurements ---------------------------------------------------------------------------


async def e2e_rate(cfg: Config, directory: str) -> float:
    """Jobs/s from the first enqueue of `cfg.n` no-ops to the last completion; checks that
    exactly those ran."""
    jobs = build(directory, "NORMAL")
    before = (await jobs.counts())[JobState.COMPLETED]
    proc, _ = await start_engine(directory, "NORMAL")
    await asyncio.sleep(SETTLE_SECS)
    try:
        start = time.perf_counter()
        for first in range(0, cfg.n, 500):
            await jobs.enqueue_many(_batch(first, min(500, cfg.n - first)))
        await wait_completed(jobs, before + cfg.n, proc)
        elapsed = time.perf_counter() - start
    finally:
        ran = await stop_engine(proc)
        await jobs.close()
    if ran != cfg.n:
        raise RuntimeError(f"{cfg.n} jobs enqueued, {ran} ran")
    return cfg.n / elapsed


async def measure_store(cfg: Config, seed: Seed, template: str | None) -> float:
    """One e2e run on a fresh store: seeded, or copied from `template` (seeded once)."""
    with data_dir(cfg.parent, "growth-") as directory:
        if template is None:
            await seed(directory)
        else:
            shutil.rmtree(directory)
            shutil.copytree(template, directory)
        return await e2e_rate(cfg, directory)


async def stores(cfg: Config) -> dict[str, list[float]]:
    """E2E rates per store, each store once per run, the order rotating."""
    seeds: dict[str, Seed] = {"empty": empty}
    seeds.update({f"{n:,} archived": archived(n) for n in cfg.archived})
    seeds[f"{cfg.queued:,} queued, other command"] = queued(cfg.queued, later=False)
    seeds[f"{cfg.queued:,} queued, due tomorrow"] = queued(cfg.queued, later=True)
    results: dict[str, list[float]] = {name: [] for name in seeds}
    with data_dir(cfg.parent, "growth-templates-") as parent:
        templates: dict[str, str | None] = {"empty": None}
        for name, seed in list(seeds.items())[1:]:
            templates[name] = os.path.join(parent, str(len(templates)))
            os.mkdir(templates[name])  # type: ignore[arg-type]
            await seed(templates[name])  # type: ignore[arg-type]
        names = list(seeds)
        for run in range(cfg.runs):
            for name in names[run % len(names) :] + names[: run % len(names)]:
                rate = await measure_store(cfg, seeds[name], templates[name])
                results[name].append(rate)
                print(f"  run {run + 1}/{cfg.runs} {name}: {rate:,.0f}/s", file=sys.stderr)
    return results


async def drain_backlog(cfg: Config) -> dict[str, float]:
    """`cfg.queued` runnable no-ops queued first, then an engine started: its RSS at start
    and peak, and the drain rate."""
    with data_dir(cfg.parent, "growth-backlog-") as directory:
        jobs = build(directory, "NORMAL")
        for first in range(0, cfg.queued, 1000):
            await jobs.enqueue_many(_batch(first, min(1000, cfg.queued - first)))
        proc, started = await start_engine(directory, "NORMAL")
        try:
            await asyncio.sleep(0.2)
            rss_start, _ = rss_mb(proc.pid)
            await wait_completed(jobs, cfg.queued, proc)
            elapsed = time.time() - started
            rss_end, peak = rss_mb(proc.pid)
        finally:
            ran = await stop_engine(proc)
            await jobs.close()
    if ran != cfg.queued:
        raise RuntimeError(f"{cfg.queued} jobs queued, {ran} ran")
    return {"backlog_drain_per_s": cfg.queued / elapsed, "backlog_rss_start_mb": rss_start,
            "backlog_rss_end_mb": rss_end, "backlog_rss_peak_mb": peak}  # fmt: skip


async def long_run(cfg: Config) -> list[dict[str, float]]:
    """`cfg.processed` no-ops through one engine; per tenth: engine RSS and jobs/s."""
    tenth = cfg.processed // 10
    samples: list[dict[str, float]] = []
    with data_dir(cfg.parent, "growth-long-") as directory:
        jobs = build(directory, "NORMAL")
        proc, _ = await start_engine(directory, "NORMAL")
        try:
            enqueued, mark = 0, time.perf_counter()
            for goal in range(tenth, cfg.processed + 1, tenth):
                while enqueued < goal:
                    done = (await jobs.counts())[JobState.COMPLETED]
                    if enqueued - done > BACKLOG_MAX:
                        await asyncio.sleep(0.01)
                        continue
                    await jobs.enqueue_many(_batch(enqueued, 1000))
                    enqueued += 1000
                await wait_completed(jobs, goal, proc)
                now = time.perf_counter()
                rss, peak = rss_mb(proc.pid)
                samples.append({"processed": goal, "rss_mb": rss, "peak_mb": peak,
                                "per_s": tenth / (now - mark)})  # fmt: skip
                mark = now
                print(f"  {goal:,} processed: RSS {rss:.1f} MB, {samples[-1]['per_s']:,.0f}/s",
                      file=sys.stderr)  # fmt: skip
        finally:
            ran = await stop_engine(proc)
            await jobs.close()
    if ran != cfg.processed:
        raise RuntimeError(f"{cfg.processed} jobs enqueued, {ran} ran")
    return samples


# -- driver ---------------------------------------------------------------------------------


async def measure(cfg: Config, stores_only: bool = False) -> dict[str, Any]:
    print("end to end, by store", file=sys.stderr)
    rates = await stores(cfg)
    r: dict[str, Any] = {"e2e_per_s": {name: median(v) for name, v in rates.items()}}
    r["vs_empty"] = {
        name: median([x / e for x, e in zip(v, rates["empty"], strict=True)])
        for name, v in rates.items()
    }
    if stores_only:
        return r
    print(f"backlog of {cfg.queued:,}", file=sys.stderr)
    r.update(await drain_backlog(cfg))
    print(f"{cfg.processed:,} processed", file=sys.stderr)
    r["long_run"] = await long_run(cfg)
    return r


def rows(r: dict[str, Any], cfg: Config) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [
        (f"e2e jobs/s, {name}", rate, f"{r['vs_empty'][name]:.2f}",
         ">= 0.90" if name.startswith("1,000,000") else "-")
        for name, rate in r["e2e_per_s"].items()
    ]  # fmt: skip
    if "long_run" not in r:
        return out
    first, last = r["long_run"][0], r["long_run"][-1]
    out += [
        (f"backlog {cfg.queued:,}: drain jobs/s", r["backlog_drain_per_s"], "-", "-"),
        (f"backlog {cfg.queued:,}: engine RSS at start MB", r["backlog_rss_start_mb"], "-",
         "-"),
        (f"backlog {cfg.queued:,}: engine RSS peak MB", r["backlog_rss_peak_mb"], "-",
         "<= 100"),
        (f"engine RSS after {first['processed']:,} processed MB", first["rss_mb"], "-", "-"),
        (f"engine RSS after {last['processed']:,} processed MB", last["rss_mb"],
         f"{last['rss_mb'] - first['rss_mb']:+.1f}", "flat"),
        (f"jobs/s, first tenth of {cfg.processed:,}", first["per_s"], "-", "-"),
        (f"jobs/s, last tenth of {cfg.processed:,}", last["per_s"],
         f"{last['per_s'] / first['per_s']:.2f}", "flat"),
    ]  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run (smoke)")
    parser.add_argument("--runs", type=int, default=3, help="runs per store (medians)")
    parser.add_argument("--dir", default=None, help="parent of the temporary data directories")
    parser.add_argument(
        "--stores-only", action="store_true",
        help="only the end-to-end rates by store (no backlog drain, no long run)",
    )  # fmt: skip
    args = parser.parse_args()
    cfg = config(args)
    result = asyncio.run(measure(cfg, args.stores_only))
    print(f"jobs growth benchmark: median of {cfg.runs} run(s), {cfg.n:,} jobs per e2e run, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print_table(["metric", "value", "ratio / change", "target"], rows(result, cfg))
    final_line({"bench": "growth", "quick": cfg.runs == 1 and cfg.n < 10_000,
                "runs": cfg.runs, "n": cfg.n, **result})  # fmt: skip


if __name__ == "__main__":
    main()
