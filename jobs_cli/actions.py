"""`jobs cancel`, `jobs requeue`, `jobs delete`: one job by id, or every job a query matches
(counted and confirmed first, then done in batches)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from jobs_core import BackgroundJobs, BulkResult, JobQuery, JobState

from .common import USAGE, CliError, add_store_argument, open_store, run, store_location

ACTIONS = {
    "cancel": "cancel queued or running jobs",
    "requeue": "requeue failed or cancelled jobs",
    "delete": "delete finished jobs for good",
}


def add_parsers(commands: Any) -> None:
    """One subcommand per action, each taking an id or `--query`."""
    for name, what in ACTIONS.items():
        parser = commands.add_parser(name, help=f"{what} (by id, or all matching --query)")
        add_store_argument(parser)
        parser.add_argument("job_id", metavar="ID", type=int, nargs="?", help="the job id")
        parser.add_argument(
            "--query", "-q", metavar="QUERY",
            help='every job matching QUERY, e.g. "state:failed command:import*"',
        )  # fmt: skip
        parser.add_argument(
            "--yes", "-y", action="store_true", help="do not ask before changing many jobs"
        )
        # No `needs_store`: main would make a lone ID an absolute path before
        # `_place_positionals` could tell it from a store (`jobs cancel ID`, $JOBS_STORE).
        parser.set_defaults(func=action_command, action=name)


def action_command(args: argparse.Namespace) -> int:
    _place_positionals(args)
    if args.job_id is None and args.query is None:
        raise CliError(f"{args.action}: give a job ID or --query", USAGE)
    if args.job_id is not None and args.query is not None:
        raise CliError(f"{args.action}: give a job ID or --query, not both", USAGE)
    if args.job_id is not None:
        print(run(_one(args.directory, args.action, args.job_id)))
        return 0
    query = JobQuery.parse(args.query)  # a bad query fails before the store is opened
    print(run(_many(args.directory, args.action, query, args.yes)))
    return 0


def _place_positionals(args: argparse.Namespace) -> None:
    """`jobs cancel ID` with $JOBS_STORE set: a lone word argparse read as STORE is the ID
    when it is a number and names no directory; then the store is resolved."""
    word = args.directory
    if args.job_id is None and word is not None and word.isdigit() and not os.path.isdir(word):
        args.directory, args.job_id = None, int(word)
    args.directory = store_location(args.directory)


async def _one(directory: str, action: str, job_id: int) -> str:
    jobs = open_store(directory)
    try:
        if action == "cancel":
            state = await jobs.cancel(job_id)
            if state is JobState.STARTED:
                return f"job {job_id} is running: its engine was asked to stop it"
            return f"job {job_id} {state}"
        if action == "requeue":
            return "requeued " + ", ".join(str(i) for i in await jobs.requeue(job_id))
        await jobs.delete(job_id)
        return f"deleted job {job_id}"
    finally:
        await jobs.close()


async def _many(directory: str, action: str, query: JobQuery, yes: bool) -> str:
    jobs = open_store(directory)
    try:
        count = await jobs.count_jobs(query)
        if count == 0:
            return f"no job matches {str(query)!r}"
        _confirm(action, count, query, yes)
        result = await _run(jobs, action, query)
    finally:
        await jobs.close()
    return result.summary(action)


def _confirm(action: str, count: int, query: JobQuery, yes: bool) -> None:
    question = (
        f"{action.capitalize()} {count:,} job{'s' if count != 1 else ''} matching {str(query)!r}?"
    )
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{question} Add --yes to confirm without a terminal", USAGE)
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CliError(f"{action}: nothing done")


async def _run(jobs: BackgroundJobs, action: str, query: JobQuery) -> BulkResult:
    def show(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{action}: {done:,}/{total:,}", end="", file=sys.stderr, flush=True)

    if action == "cancel":
        return await jobs.bulk_cancel(query, progress=show)
    if action == "requeue":
        return await jobs.bulk_requeue(query, progress=show)
    return await jobs.bulk_delete(query, progress=show)
