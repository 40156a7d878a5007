"""TUI query benchmark: every query a screen refresh runs, on 1M archived and 10k queued jobs."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import final_line, median, percentile, print_table, rss_mb
from _seed_archive import seed_store
from _stores import Stores

from jobs_core import BackgroundJobs, JobFilter

BUDGET_MS = 50.0
Query = Callable[[int], Awaitable[Any]]
"""One query; called with the run number so lookups can vary the id they ask for."""


def queries(jobs: BackgroundJobs, month: str, archived: int, queued: int) -> dict[str, Query]:
    """Every query a TUI refresh runs, by name."""
    mid = archived // 2
    fails = archived // 50 - 1
    page = 100

    def completed(**flt: Any) -> Query:
        return lambda _: jobs.list_completed(month, JobFilter(**flt), limit=page)

    return {
        "counts()": lambda _: jobs.counts(),
        "throughput(15)": lambda _: jobs.throughput(15),
        "engines()": lambda _: jobs.engines(),
        "running_jobs()": lambda _: jobs.running_jobs(),
        "months()": lambda _: jobs.months(),
        "list_queue first page": lambda _: jobs.list_queue(limit=page),
        "list_queue command filter": lambda _: jobs.list_queue(JobFilter(command="cmd_3"),
                                                               limit=page),
        "list_completed first page": completed(),
        "list_completed deep page": lambda r: jobs.list_completed(month, cursor=mid - r * 997,
                                                                  limit=page),
        "list_completed command": completed(command="cmd_3"),
        "list_completed tag": completed(tag="tag42"),
        "list_completed batch_id": completed(batch_id=f"batch-{archived // 3000}"),
        "list_completed created_by": completed(created_by="svc7"),
        "list_completed user_id": completed(user_id="user4243"),
        "list_completed ref_id": completed(ref_id=f"ref-{mid + 1}"),
        "list_completed text (common)": completed(text="cmd_7"),
        "list_completed text (rare)": completed(text="user4243@"),
        "list_completed text (none)": completed(text="no-such-word"),
        "list_failed first page": lambda _: jobs.list_failed(month, limit=page),
        "list_failed command": lambda _: jobs.list_failed(month, JobFilter(command="cmd_0"),
                                                          limit=page),
        "get_job archived completed": lambda r: jobs.get_job(1 + (mid + r * 7919) % archived),
        "get_job archived failed": lambda r: jobs.get_job(50 * (1 + (999 + r * 331) % fails)),
        "get_job queued": lambda r: jobs.get_job(archived + 1 + (r * 97) % queued),
        "get_job_by_ref archived": lambda r: jobs.get_job_by_ref(
            f"ref-{1 + (mid + r * 7919) % archived}"),
        "dependents archived": lambda r: jobs.dependents(1 + (mid + r * 7919) % archived),
        "children archived": lambda r: jobs.children(1 + (mid + r * 7919) % archived),
        "batch_status": lambda r: jobs.batch_status(f"batch-{r + 1}"),
        "attempts archived": lambda r: jobs.attempts(1 + (mid + r * 7919) % archived),
        "search (common word)": lambda _: jobs.search("processed", limit=page),
        "search (common, next page)": lambda r: jobs.search("processed", limit=page,
                                                            cursor=mid - r * 997),
        "search (two words)": lambda _: jobs.search("bad input", limit=page),
        "search (rare word)": lambda _: jobs.search("user4243", limit=page),
        "search (no match)": lambda _: jobs.search("nosuchword", limit=page),
        "search (rare, date range)": lambda _: jobs.search(
            "user4243", since=_day_ago(), until=_day_ago(0), limit=page),
        "search (common, date range)": lambda _: jobs.search(
            "processed", since=_day_ago(3), until=_day_ago(2), limit=page),
        "list_completed query (prefix, negation)": lambda _: jobs.list_completed(
            month, "command:cmd_3* -tag:tag42", limit=page),
        "find_jobs state:failed command (every month)": lambda _: jobs.find_jobs(
            "state:failed command:cmd_3", limit=page),
        "find_jobs text (rare, bounded scan)": lambda _: jobs.find_jobs("user4243@", limit=page),
        "find_jobs args (bounded scan)": lambda _: jobs.find_jobs("args.x:1", limit=page),
        "command_figures(15 min)": lambda _: jobs.command_figures(15),
        "command_figures(24 h)": lambda _: jobs.command_figures(24 * 60),
        "command_throughput(60 min)": lambda _: jobs.command_throughput("cmd_3", 60),
        "blocked_by(100 ids)": lambda _: jobs.blocked_by(range(archived, archived + 100)),
        "count_jobs state:failed (bulk confirm)": lambda _: jobs.count_jobs("state:failed"),
        "change_token()": _sync(jobs.change_token),
    }  # fmt: skip


def _day_ago(days: int = 1) -> datetime:
    """A bound of a date range, `days` before now."""
    return datetime.now(UTC) - timedelta(days=days)


def _sync(fn: Callable[[], Any]) -> Query:
    async def call(_: int) -> Any:
        return fn()

    return call


async def time_query(query: Query, runs: int) -> tuple[list[float], float]:
    """(ms of each run after the first, ms of the first call, which opens files and warms)."""
    start = time.perf_counter()
    await query(0)
    first = (time.perf_counter() - start) * 1000
    times: list[float] = []
    for run in range(1, runs + 1):
        start = time.perf_counter()
        await query(run)
        times.append((time.perf_counter() - start) * 1000)
    return times, first


async def measure(directory: str, month: str, archived: int, queued: int, runs: int
                  ) -> dict[str, Any]:  # fmt: skip
    """Timing of every query, plus this process's memory after running them."""
    jobs = BackgroundJobs(directory, create=False, start_engine=False)
    results: dict[str, Any] = {}
    try:
        for name, query in queries(jobs, month, archived, queued).items():
            times, first = await time_query(query, runs)
            results[name] = {
                "p50_ms": median(times), "p99_ms": percentile(times, 99), "max_ms": max(times),
                "first_ms": first,
            }  # fmt: skip
        rss, peak = rss_mb()
    finally:
        await jobs.close()
    return {"queries": results, "rss_mb": rss, "peak_rss_mb": peak}


async def tui_rss(directory: str) -> dict[str, float]:
    """RSS of the admin app, headless, after it has shown and refreshed every mode."""
    from jobs_tui.app import JobsApp

    jobs = BackgroundJobs(directory, create=False, start_engine=False)
    before, _ = rss_mb()
    app = JobsApp(jobs)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause(1.0)
            for key in ("2", "3", "4", "5", "6", "1"):
                await pilot.press(key)
                await pilot.pause(1.0)
            rss, peak = rss_mb()
    finally:
        await jobs.close()
    return {"tui_rss_mb": rss, "tui_peak_rss_mb": peak, "tui_rss_before_app_mb": before}


def tui_rss_in_child(directory: str) -> dict[str, float]:
    """`tui_rss` in a fresh process, so the query benchmark's memory does not count."""
    try:
        import jobs_tui.app  # noqa: F401
    except ImportError:
        return {}
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--tui-child", directory],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        print(f"TUI memory not measured: {done.stderr.strip().splitlines()[-1:]}")
        return {}
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def seed_in_child(directory: str, archived: int, queued: int) -> str:
    """Seed in another process, so its memory does not count in this one's RSS."""
    done = subprocess.run(
        [
            sys.executable,
            os.path.abspath(__file__),
            "--seed-child",
            directory,
            str(archived),
            str(queued),
        ],
        stdout=subprocess.PIPE,
        text=True,
        timeout=600,
        check=True,
    )  # fmt: skip (its errors go to our stderr)
    return done.stdout.strip().splitlines()[-1]


def report(result: dict[str, Any], runs: int) -> None:
    rows = [
        (name, q["p50_ms"], q["p99_ms"], q["max_ms"], q["first_ms"],
         "ok" if q["max_ms"] <= BUDGET_MS else "OVER")
        for name, q in result["queries"].items()
    ]  # fmt: skip
    print(
        f"TUI queries: {result['archived']:,} archived + {result['queued']:,} queued jobs, "
        f"{runs} runs each, budget {BUDGET_MS:g} ms (seeded in {result['seed_secs']:.1f} s)"
    )
    print_table(["query", "p50 ms", "p99 ms", "max ms", "first ms", "budget"], rows)
    print(f"RSS after the queries: {result['rss_mb']:.1f} MiB (peak {result['peak_rss_mb']:.1f})")
    if "tui_rss_mb" in result:
        print(f"TUI app RSS after refreshing every mode: {result['tui_rss_mb']:.1f} MiB "
              f"(before the app: {result['tui_rss_before_app_mb']:.1f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k archived jobs, 5 runs")
    parser.add_argument("--dir", default=None, help="parent of the temporary data directory")
    parser.add_argument(
        "--store", default=None, metavar="pg|URL",
        help="PostgreSQL: 'pg' starts a private server, a postgresql:// URL uses that server",
    )  # fmt: skip
    parser.add_argument("--tui-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed-child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tui_child:
        print(json.dumps(asyncio.run(tui_rss(args.tui_child))))
        return
    if args.seed_child:
        directory, archived, queued = args.seed_child
        print(asyncio.run(_seed(directory, int(archived), int(queued))))
        return
    archived, queued, runs = (100_000, 1_000, 5) if args.quick else (1_000_000, 10_000, 20)
    stores = Stores(args.store, args.dir)
    try:
        with stores.fresh("bench-tui-", "FULL") as directory:
            start = time.perf_counter()
            month = seed_in_child(directory, archived, queued)
            seeded = time.perf_counter() - start
            result = asyncio.run(measure(directory, month, archived, queued, runs))
            result.update(tui_rss_in_child(directory))
        print(f"store: {stores.describe()}")
    finally:
        stores.close()
    result.update(archived=archived, queued=queued, runs=runs, seed_secs=seeded)
    report(result, runs)
    final_line({"bench": "tui_queries", "store": stores.backend, "quick": args.quick, **result})


async def _seed(location: str, archived: int, queued: int) -> str:
    from jobs_core.store.url import is_store_url

    if is_store_url(location):
        from _seed_archive_pg import seed_store_pg

        month = await seed_store_pg(location, archived, queued)
    else:
        month = await seed_store(location, archived, queued)
    async with BackgroundJobs(location):  # leaves one (stopped) engine row behind
        await asyncio.sleep(0.05)
    return month


if __name__ == "__main__":
    main()
