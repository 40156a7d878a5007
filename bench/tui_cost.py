"""What the admin app costs: engines' end-to-end throughput with and without the app attached
to the store (in another process, on its busiest view), the app's CPU on a store where
nothing changes, and on the detail of a running job (which refreshes every second for the
attempt's time so far). Targets: at most 5% of throughput, under 2% CPU."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass

from _common import cpu_secs, data_dir, final_line, median, print_table
from _engine_proc import build
from throughput import _batch, start_engine, stop_engine, wait_completed

from jobs_core import BackgroundJobs

APP_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_tui_proc.py")


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    parent: str | None
    runs: int
    jobs: int
    idle_secs: float


async def start_app(directory: str, view: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, APP_SCRIPT, directory, view, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if line.strip() != b"ready":
        raise RuntimeError(f"the app did not start: {line!r}")
    return proc


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    await asyncio.wait_for(proc.wait(), timeout=30)


async def end_to_end(cfg: Config, view: str | None) -> tuple[float, float]:
    """(jobs/s from first enqueue to last completion, the app's CPU % meanwhile)."""
    with data_dir(cfg.parent, "bench-tui-") as directory:
        jobs = build(directory, "NORMAL")
        await jobs.enqueue("noop", {"i": -1})  # creates the store before the others open it
        app = await start_app(directory, view) if view else None
        engine, _ = await start_engine(directory, "NORMAL")
        await asyncio.sleep(0.5)
        app_cpu = cpu_secs(app.pid) if app else 0.0
        try:
            start = time.perf_counter()
            for first in range(0, cfg.jobs, 500):
                await jobs.enqueue_many(_batch(first, 500))
            await wait_completed(jobs, cfg.jobs + 1, engine)
            elapsed = time.perf_counter() - start
            used = cpu_secs(app.pid) - app_cpu if app else 0.0
        finally:
            await stop_engine(engine)
            if app:
                await stop_process(app)
            await jobs.close()
    return cfg.jobs / elapsed, 100 * used / elapsed


async def with_history(jobs: BackgroundJobs, directory: str) -> None:
    """2,000 finished jobs in the store, run by an engine in another process."""
    await jobs.enqueue_many(_batch(0, 2000))
    engine, _ = await start_engine(directory, "NORMAL")
    await wait_completed(jobs, 2000, engine)
    await stop_engine(engine)


async def app_cpu(cfg: Config, directory: str, view: str) -> float:
    """The CPU % of the app on `view`, in its own process, once past its first refreshes."""
    app = await start_app(directory, view)
    try:
        await asyncio.sleep(2.0)  # past the first refreshes
        before, start = cpu_secs(app.pid), time.perf_counter()
        await asyncio.sleep(cfg.idle_secs)
        used = cpu_secs(app.pid) - before
        elapsed = time.perf_counter() - start
    finally:
        await stop_process(app)
    return 100 * used / elapsed


async def idle_cpu(cfg: Config, view: str) -> float:
    """The app's CPU % on a store with history and no engine (nothing changes)."""
    with data_dir(cfg.parent, "bench-idle-") as directory:
        jobs = build(directory, "NORMAL")
        try:
            await with_history(jobs, directory)
            return await app_cpu(cfg, directory, view)
        finally:
            await jobs.close()


async def running_detail_cpu(cfg: Config) -> float:
    """The app's CPU % on the detail of a job that runs the whole time (an engine in this
    process holds it), on a store with history: the detail refetches the job every second."""
    with data_dir(cfg.parent, "bench-detail-") as directory:
        jobs = build(directory, "NORMAL")
        release, started = asyncio.Event(), asyncio.Event()

        @jobs.command
        async def hold(req: dict[str, int]) -> None:
            started.set()
            await release.wait()

        try:
            await with_history(jobs, directory)
            await jobs.start()
            ref = await jobs.enqueue("hold", {})
            await asyncio.wait_for(started.wait(), 30)
            return await app_cpu(cfg, directory, f"job:{ref.id}")
        finally:
            release.set()
            await jobs.close()


async def measure(cfg: Config) -> dict[str, float]:
    without: list[float] = []
    with_app: list[float] = []
    app_cpu: list[float] = []
    await end_to_end(cfg, None)  # warm-up: the first run pays for cold caches
    for _ in range(cfg.runs):  # alternate, so drift on a shared machine hits both alike
        without.append((await end_to_end(cfg, None))[0])
        rate, cpu = await end_to_end(cfg, "queue")
        with_app.append(rate)
        app_cpu.append(cpu)
    return {
        "e2e_without_app_jobs_per_s": median(without),
        "e2e_with_app_jobs_per_s": median(with_app),
        "app_cost_pct": 100 * (1 - median(with_app) / median(without)),
        "app_cpu_busy_pct": median(app_cpu),
        "app_cpu_idle_dashboard_pct": await idle_cpu(cfg, "dashboard"),
        "app_cpu_idle_queue_pct": await idle_cpu(cfg, "queue"),
        "app_cpu_running_detail_pct": await running_detail_cpu(cfg),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run (smoke)")
    parser.add_argument("--runs", type=int, default=3, help="runs per metric (median reported)")
    parser.add_argument("--dir", default=None, help="parent of the temporary data directories")
    parser.add_argument(
        "--jobs", type=int, default=200_000,
        help="jobs per end-to-end run: ~10 s, so the app's refreshes reach their steady rate",
    )  # fmt: skip
    args = parser.parse_args()
    cfg = Config(parent=args.dir, runs=1 if args.quick else args.runs,
                 jobs=5_000 if args.quick else args.jobs,
                 idle_secs=5.0 if args.quick else 20.0)  # fmt: skip
    result = asyncio.run(measure(cfg))
    print_table(
        ["metric", "value", "target"],
        [
            ["end to end jobs/s, no app", result["e2e_without_app_jobs_per_s"], "-"],
            ["end to end jobs/s, app on the queue view", result["e2e_with_app_jobs_per_s"], "-"],
            ["throughput cost of the app, %", result["app_cost_pct"], "<= 5"],
            ["app CPU % while engines run flat out", result["app_cpu_busy_pct"], "-"],
            ["app CPU % idle, dashboard", result["app_cpu_idle_dashboard_pct"], "< 2"],
            ["app CPU % idle, queue view", result["app_cpu_idle_queue_pct"], "< 2"],
            ["app CPU %, detail of a running job", result["app_cpu_running_detail_pct"], "< 2"],
        ],
    )
    final_line({"bench": "tui_cost", "quick": args.quick, "runs": cfg.runs, **result})


if __name__ == "__main__":
    main()
