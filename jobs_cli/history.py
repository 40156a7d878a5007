"""`jobs purge` and `jobs search`: retention on demand and full-text search of the archive."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs_core import BackgroundJobs, Job, JobState, PurgeReport, from_ms

from .common import USAGE, CliError, add_store_argument, open_store, parse_when, run


def add_purge_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "purge", help="remove finished jobs older than a delay (whole months at once)"
    )
    add_store_argument(parser)
    parser.add_argument(
        "--older-than", required=True, metavar="AGE",
        help="an age (30d, 12h) or an ISO date-time; jobs that finished before go",
    )  # fmt: skip
    parser.add_argument(
        "--state", action="append", choices=[s.value for s in (JobState.COMPLETED,
        JobState.FAILED, JobState.CANCELLED)], help="only jobs in this state (repeatable)",
    )  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="report, remove nothing")
    parser.set_defaults(func=purge_command, needs_store=True)


def add_search_parser(commands: Any) -> None:
    parser = commands.add_parser("search", help="full-text search of finished jobs")
    add_store_argument(parser)
    parser.add_argument("text", metavar="TEXT", help="words that must all appear")
    parser.add_argument("--since", metavar="WHEN", help="finished at or after (age or date)")
    parser.add_argument("--until", metavar="WHEN", help="finished before (age or date)")
    parser.add_argument("--limit", type=int, default=20, help="most jobs shown (default 20)")
    parser.add_argument("--json", action="store_true", help="one JSON object per job")
    parser.set_defaults(func=search_command, needs_store=True)


def purge_command(args: argparse.Namespace) -> int:
    older_than = parse_when(args.older_than, "--older-than")
    report = run(_purge(args.directory, older_than, args.state, args.dry_run))
    print(describe_purge(report))
    return 0


async def _purge(directory: str, older_than: Any, states: Any, dry_run: bool) -> PurgeReport:
    jobs = open_store(directory)
    try:
        return await jobs.purge(older_than, state=states, dry_run=dry_run)
    finally:
        await jobs.close()


def describe_purge(report: PurgeReport) -> str:
    """`removed 12 jobs that finished before ...: completed 10, failed 2` (and the months)."""
    verb = "would remove" if report.dry_run else "removed"
    parts = ", ".join(f"{state} {n:,}" for state, n in sorted(report.removed.items()) if n)
    before = _stamp(report.older_than)
    line = f"{verb} {report.total:,} jobs that finished before {before}"
    lines = [line + (f": {parts}" if parts else "")]
    if report.months_dropped:
        lines.append(f"{verb} whole months: {', '.join(report.months_dropped)}")
    return "\n".join(lines)


def search_command(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CliError(f"--limit must be 1 or more, got {args.limit}", USAGE)
    since = _instant(args.since, "--since")
    until = _instant(args.until, "--until")
    found = run(_search(args.directory, args.text, since, until, args.limit))
    for job in found:
        print(json.dumps(_json(job)) if args.json else _line(job))
    if not found and not args.json:
        print(f"no finished job holds every word of '{args.text}'")
    return 0


def _instant(text: str | None, option: str) -> datetime | None:
    """An age (`7d`: that long ago) or a date-time, for `--since` and `--until`."""
    if text is None:
        return None
    when = parse_when(text, option)
    return datetime.now(UTC) - when if isinstance(when, timedelta) else when


def _stamp(ms: int) -> str:
    return from_ms(ms).strftime("%Y-%m-%d %H:%M:%SZ")


async def _search(directory: str, text: str, since: Any, until: Any, limit: int) -> list[Job]:
    jobs: BackgroundJobs = open_store(directory)
    try:
        return (await jobs.search(text, since=since, until=until, limit=limit)).items
    finally:
        await jobs.close()


def _line(job: Job) -> str:
    finished = _stamp(job.completed_date) if job.completed_date else "-"
    detail = job.error.message if job.error else (job.status or "")
    return f"{job.id:>8}  {job.state.value:<9}  {finished}  {job.command}  {detail}".rstrip()


def _json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id, "command": job.command, "state": job.state.value, "tag": job.tag,
        "completed_date": job.completed_date, "status": job.status,
        "error": job.error.message if job.error else None,
    }  # fmt: skip
