"""`jobs list STORE QUERY`: the jobs a query matches, anywhere, newest first, as a table or as
JSON lines (the export)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from jobs_core import Job, JobQuery, from_ms, job_to_json
from jobs_core.store.url import is_store_url

from .common import STORE_ENV, USAGE, CliError, add_store_argument, open_store, run, store_location

TABLE_LIMIT = 50
"""Rows the table shows unless `--limit` says otherwise (JSON exports everything)."""
PAGE = 500


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "list", help="list the jobs matching a query (table, or JSON lines with --json)"
    )
    add_store_argument(parser)
    parser.add_argument(
        "query", metavar="QUERY", nargs="*",
        help='e.g. state:failed command:import* since:2h (words search the text)',
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="one JSON object per job and line")
    parser.add_argument(
        "--limit", type=int, metavar="N",
        help=f"at most N jobs (default {TABLE_LIMIT} for the table, all for --json)",
    )  # fmt: skip
    parser.set_defaults(func=list_command)


def list_command(args: argparse.Namespace) -> int:
    _place_positionals(args)
    if args.limit is not None and args.limit < 1:
        raise CliError(f"--limit must be at least 1, got {args.limit}", USAGE)
    query = JobQuery.parse(" ".join(args.query))
    limit = args.limit if args.limit is not None else (None if args.json else TABLE_LIMIT)
    return run(_list(args.directory, query, limit, args.json))


def _place_positionals(args: argparse.Namespace) -> None:
    """`jobs list QUERY` with $JOBS_STORE set: a first word argparse read as STORE is part of
    the query unless it names a store (a URL or a directory); then the store is resolved."""
    word = args.directory
    if (
        word is not None and os.environ.get(STORE_ENV)
        and not is_store_url(word) and not os.path.isdir(word)
    ):  # fmt: skip
        args.directory, args.query = None, [word, *args.query]
    args.directory = store_location(args.directory)


async def _list(directory: str, query: JobQuery, limit: int | None, as_json: bool) -> int:
    jobs = open_store(directory)
    shown = 0
    more = False
    try:
        cursor: int | None = None
        if not as_json:
            print(header())
        while limit is None or shown < limit:
            want = PAGE if limit is None else min(PAGE, limit - shown)
            page = await jobs.find_jobs(query, cursor=cursor, limit=want)
            for job in page.items:
                print(job_to_json(job) if as_json else row(job))
            shown += len(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        else:
            more = True
    finally:
        await jobs.close()
    if not as_json:
        tail = " (more: raise --limit)" if more else ""
        print(f"{shown:,} job{'' if shown == 1 else 's'}{tail}", file=sys.stderr)
    return 0


COLUMNS = (("ID", 8), ("STATE", 10), ("COMMAND", 24), ("TIME (UTC)", 20), ("TAG", 12))


def header() -> str:
    return "  ".join(f"{name:<{width}}" for name, width in COLUMNS) + "  ERROR / STATUS"


def row(job: Job) -> str:
    """One line: id, state, command, when it finished (or was created), tag, error."""
    when = job.completed_date if job.completed_date is not None else job.created_date
    detail = job.error.message if job.error else (job.status or "")
    cells = (str(job.id), str(job.state), job.command,
             from_ms(when).strftime("%Y-%m-%d %H:%M:%S"), job.tag or "")  # fmt: skip
    text = "  ".join(f"{_cut(c, w):<{w}}" for c, (_, w) in zip(cells, COLUMNS, strict=True))
    return f"{text}  {' '.join(detail.split())}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
