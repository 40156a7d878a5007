"""`jobs status`: gather a store's figures and print them as text or JSON."""

from __future__ import annotations

import argparse
import inspect
import json
from typing import Any

from jobs_core import BackgroundJobs, ScheduledTaskInfo

from .common import add_store_argument, open_store, run
from .status_report import StatusData, format_report, to_json

THROUGHPUT_MINUTES = 5
"""Minutes of throughput the report shows, one line each."""
MAX_MINUTES = 7 * 24 * 60
"""The most `--minutes` shows: a line a minute for a week (more is no report to read, and
far more reached back before year 1, which datetime cannot show)."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("status", help="print a report of a store's jobs and engines")
    add_store_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.add_argument(
        "--minutes", type=minutes_value, default=THROUGHPUT_MINUTES, metavar="N",
        help=f"minutes of throughput to show, 1 to {MAX_MINUTES} (default {THROUGHPUT_MINUTES})",
    )  # fmt: skip
    parser.set_defaults(func=status_command, needs_store=True)


def minutes_value(text: str) -> int:
    """`--minutes`: a whole number of minutes, at least 1."""
    try:
        minutes = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of minutes, got '{text}'"
        ) from None
    if minutes < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {minutes}")
    if minutes > MAX_MINUTES:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_MINUTES} (a week), got {minutes}")
    return minutes


def status_command(args: argparse.Namespace) -> int:
    data = run(_gather_from(args.directory, args.minutes))
    if args.json:
        print(json.dumps(to_json(data), indent=2))
    else:
        print(format_report(data), end="")
    return 0


async def _gather_from(directory: str, minutes: int) -> StatusData:
    jobs = open_store(directory)
    try:
        return await gather(jobs, directory, minutes)
    finally:
        await jobs.close()


async def gather(jobs: BackgroundJobs, directory: str, minutes: int) -> StatusData:
    """Everything the report shows, read through the public admin API."""
    return StatusData(
        directory=jobs.location,
        now_ms=jobs.clock.now_ms(),
        counts=await jobs.counts(),
        engines=await jobs.engines(),
        running=await jobs.running_jobs(),
        months=await jobs.months(),
        throughput=await jobs.throughput(minutes),
        throughput_minutes=minutes,
        scheduled=await scheduled_tasks(jobs),
        exposed=await jobs.exposed_files(),
        queues=await jobs.queues(),
    )


async def scheduled_tasks(jobs: BackgroundJobs) -> list[ScheduledTaskInfo] | None:
    """The scheduled tasks, or None while this version of jobs_core has no scheduling API."""
    method = getattr(jobs, "scheduled_tasks", None)
    if method is None:
        return None
    tasks = method()
    if inspect.isawaitable(tasks):
        tasks = await tasks
    return list(tasks)
