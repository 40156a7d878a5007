"""`jobs enqueue`: store one job, validated against an app's commands or the engines' ones."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta
from typing import Any

from jobs_core import BackgroundJobs, EnqueueRequest, JobRef
from jobs_core.flow_records import ON_CONFLICT_CHOICES
from jobs_core.store.url import is_store_url

from .common import (
    STORE_ENV,
    USAGE,
    CliError,
    add_store_argument,
    load_app,
    open_store,
    parse_args_option,
    parse_json,
    parse_when,
    run,
    shown,
    store_location,
)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "enqueue",
        help="enqueue a job and print its id",
        description=(
            "Enqueue one job. Without --app the command's worker, retry limit, timeout and "
            "request fields come from its declaration in the store, written by every engine "
            "that runs it when it starts; a command no engine declared is enqueued with a "
            "warning (the defaults, unchecked) unless --strict."
        ),
    )
    add_store_argument(parser)
    parser.add_argument("job_command", metavar="COMMAND", help="the registered command name")
    parser.add_argument("request", metavar="JSON", nargs="?", help="the request as JSON")
    parser.add_argument(
        "--app", metavar="MODULE:OBJECT", help="check COMMAND and JSON against this app's code"
    )
    parser.add_argument(
        "--strict", action="store_true",
        help="refuse a command (or callback) that no engine has declared in the store",
    )  # fmt: skip
    parser.add_argument("--tag")
    parser.add_argument("--batch-id")
    parser.add_argument("--ref-id")
    parser.add_argument(
        "--worker", help="named worker that runs the job serially (if the command has none)"
    )
    parser.add_argument(
        "--run-after", metavar="WHEN",
        help="a delay (30s, 5m, 2h, 1d) or an ISO date-time; without a zone "
        "(2026-11-02T09:00) it is this machine's local time",
    )  # fmt: skip
    parser.add_argument("--depends-on", type=int, metavar="ID")
    parser.add_argument("--parent-id", type=int, metavar="ID")
    parser.add_argument("--callback", metavar="COMMAND")
    parser.add_argument("--retry-limit", type=int, metavar="N")
    parser.add_argument("--timeout", type=float, metavar="SECONDS")
    parser.add_argument("--created-by")
    parser.add_argument("--user-id")
    parser.add_argument("--reply-to", metavar="URL")
    parser.add_argument(
        "--arg", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    _add_flow_arguments(parser)
    parser.set_defaults(func=enqueue_command)


def _add_flow_arguments(parser: Any) -> None:
    parser.add_argument("--queue", help="the queue (default: the command's, else 'default')")
    parser.add_argument("--priority", type=int, metavar="N", help="higher runs first (default 0)")
    parser.add_argument(
        "--expires-in", metavar="DELAY",
        help="never start it later than this after it is due (30s, 5m, 2h, 1d)",
    )  # fmt: skip
    parser.add_argument(
        "--expires-at", metavar="WHEN",
        help="never start it after this ISO date-time (without a zone: local time)",
    )  # fmt: skip
    parser.add_argument(
        "--concurrency-key", metavar="KEY", help="at most --concurrency-limit jobs with it run"
    )
    parser.add_argument("--concurrency-limit", type=int, metavar="N", help="default 1")
    parser.add_argument(
        "--unique-key", metavar="KEY",
        help="while a job with this key is queued or running, print its id instead",
    )  # fmt: skip
    parser.add_argument(
        "--on-conflict", choices=ON_CONFLICT_CHOICES, metavar="{raise,return_existing,replace}",
        help="when --ref-id is taken: fail (default), print that job's id, or replace its "
        "request and run-after if it is still queued",
    )  # fmt: skip


def enqueue_command(args: argparse.Namespace) -> int:
    _place_positionals(args)
    args.directory = store_location(args.directory)
    request = _request_from(args)
    ref = run(_enqueue(args, request))
    print(ref.id)
    return 0


def _place_positionals(args: argparse.Namespace) -> None:
    """`jobs enqueue COMMAND JSON` with $JOBS_STORE set: two words that argparse read as
    STORE COMMAND are COMMAND JSON unless the first one names a store."""
    first = args.directory
    if (
        first is not None and args.request is None and os.environ.get(STORE_ENV)
        and not is_store_url(first) and not os.path.isdir(first)
    ):  # fmt: skip
        args.directory, args.job_command, args.request = None, first, args.job_command


def _request_from(args: argparse.Namespace) -> EnqueueRequest:
    """Every option checked before the store is opened, so bad input changes nothing."""
    return EnqueueRequest(
        command=args.job_command, request=parse_json(args.request), worker=args.worker,
        run_after=parse_when(args.run_after) if args.run_after else None,
        retry_limit=args.retry_limit, timeout=args.timeout, ref_id=args.ref_id, tag=args.tag,
        created_by=args.created_by, batch_id=args.batch_id, args=parse_args_option(args.arg),
        parent_id=args.parent_id, depends_on=args.depends_on, callback=args.callback,
        user_id=args.user_id, reply_to=args.reply_to, queue=args.queue, priority=args.priority,
        expires_in=_delay(args.expires_in, "--expires-in") if args.expires_in else None,
        expires_at=_moment(args.expires_at) if args.expires_at else None,
        concurrency_key=args.concurrency_key, concurrency_limit=args.concurrency_limit,
        unique_key=args.unique_key, on_conflict=args.on_conflict,
    )  # fmt: skip


def _delay(text: str, option: str) -> timedelta:
    when = parse_when(text, option)
    if not isinstance(when, timedelta):
        raise CliError(f"{option} '{text}': expected a delay such as 30s, 5m, 2h or 1d", USAGE)
    return when


def _moment(text: str) -> datetime:
    when = parse_when(text, "--expires-at")
    if not isinstance(when, datetime):
        raise CliError(f"--expires-at '{text}': expected an ISO date-time", USAGE)
    return when


async def _enqueue(args: argparse.Namespace, request: EnqueueRequest) -> JobRef:
    # The store must exist even with --app: an app factory would create a mistyped one.
    jobs = open_store(args.directory)
    if args.app is not None:
        await jobs.close()
        jobs = load_app(args.app, args.directory)
    try:
        if args.app is None:
            await _check_declared(jobs, args.directory, request, strict=args.strict)
        # With --app an unknown command is an error: the app's code is the reference.
        refs = await jobs.enqueue_many([request], allow_undeclared=args.app is None)
        return refs[0]
    finally:
        await jobs.close()


async def _check_declared(
    jobs: BackgroundJobs, directory: str, request: EnqueueRequest, *, strict: bool
) -> None:
    """Warn about (or, strict, refuse) a command or callback that no engine declared."""
    where = shown(directory)
    for name in (request.command, request.callback):
        if name is None or await jobs.declared_command(name) is not None:
            continue
        if strict:
            declared = [d.name for d in await jobs.declared_commands()]
            raise CliError(
                f"no engine has declared a command named '{name}' on {where} "
                f"(declared: {', '.join(declared) or 'none'}); start an engine that runs it, "
                "or leave out --strict"
            )
        print(
            f"jobs: warning: no engine has declared a command named '{name}' on {where}; "
            "enqueued anyway with the default options and no request check (pass --strict "
            "to refuse)",
            file=sys.stderr,
        )
