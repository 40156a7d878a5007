"""`jobs queue list|set|pause|resume` and `jobs why`: queues and waiting jobs, from any
process, on any store."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from jobs_core import UNSET, BackgroundJobs, InvalidOptionError, QueueSettings, RateLimit, WaitInfo
from jobs_core.store.url import is_store_url

from .common import (
    STORE_ENV,
    USAGE,
    CliError,
    add_store_argument,
    open_store,
    run,
    store_location,
)
from .queue_report import queue_json, queue_lines


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "queue", help="list queues, or set, pause or resume one (store-wide, at once)",
        description="With no ACTION (or only a STORE), list the queues.",
    )  # fmt: skip
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every queue with its settings and figures")
    add_store_argument(listing)
    listing.add_argument("--json", action="store_true", help="print JSON for machines")
    listing.set_defaults(func=list_command, needs_store=True)
    setting = actions.add_parser(
        "set", help="change a queue's concurrency or rate limit",
        description="Change a queue's settings for every engine on the store, within a "
        "second; options left out keep their value.",
    )  # fmt: skip
    _queue_arguments(setting)
    setting.add_argument(
        "--concurrency", metavar="N|none", type=concurrency_value, default=UNSET,
        help="most jobs of the queue running at once across all engines ('none': no limit)",
    )  # fmt: skip
    setting.add_argument(
        "--rate-limit", metavar="N/WINDOW|none", type=rate_value, default=UNSET,
        help="most starts per window across all engines, e.g. 100/1m, 10/s ('none': no limit)",
    )  # fmt: skip
    setting.set_defaults(func=set_command)
    for action, verb in (("pause", "start nothing new from"), ("resume", "resume")):
        sub = actions.add_parser(action, help=f"{verb} a queue (running jobs finish)")
        _queue_arguments(sub)
        sub.set_defaults(func=set_command, paused=action == "pause")


def listing_by_default(argv: list[str]) -> list[str]:
    """`jobs queue`, `jobs queue --json` and `jobs queue STORE ...` (a URL or a directory)
    as `jobs queue list ...`: listing is what the bare command is for. Anything else (an
    action, `-h`, a misspelt action) is left to argparse, which names the actions."""
    if argv[:1] != ["queue"]:
        return argv
    following = argv[1:2]
    if not following or following[0] == "--json" or is_store(following[0]):
        return ["queue", "list", *argv[1:]]
    return argv


def add_why_parser(commands: Any) -> None:
    parser = commands.add_parser("why", help="say why a queued job is not running")
    add_store_argument(parser)
    parser.add_argument("job_id", metavar="ID", type=int, help="the job id")
    parser.set_defaults(func=why_command, needs_store=True)


def _queue_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    parser.add_argument("name", metavar="QUEUE", nargs="?", help="the queue's name")


def concurrency_value(text: str) -> int | None:
    """`--concurrency`: a whole number of 1 or more, or `none`."""
    if text.strip().lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def rate_value(text: str) -> RateLimit | None:
    """`--rate-limit`: `N/WINDOW` (`100/1m`, `10/s`, `5/500ms`), or `none`."""
    if text.strip().lower() == "none":
        return None
    try:
        return RateLimit.parse(text)
    except InvalidOptionError as error:
        raise argparse.ArgumentTypeError(f"{error} (or 'none' for no limit)") from None


def _place_name(args: argparse.Namespace) -> None:
    """`jobs queue pause email` with $JOBS_STORE set: one word is the queue, not the store."""
    if args.name is None:
        first = args.directory
        if first is None or not os.environ.get(STORE_ENV) or is_store(first):
            raise CliError("give the queue's name: jobs queue ACTION [STORE] QUEUE", USAGE)
        args.directory, args.name = None, first
    args.directory = store_location(args.directory)


def is_store(text: str) -> bool:
    """Whether `text` names a store rather than a queue: a URL or an existing directory."""
    return is_store_url(text) or os.path.isdir(text)


def list_command(args: argparse.Namespace) -> int:
    queues = run(_with_store(args.directory, lambda jobs: jobs.queues()))
    if args.json:
        print(json.dumps([queue_json(q) for q in queues], indent=2))
    else:
        print("\n".join(queue_lines(queues)))
    return 0


def set_command(args: argparse.Namespace) -> int:
    _place_name(args)
    concurrency = getattr(args, "concurrency", UNSET)
    rate_limit = getattr(args, "rate_limit", UNSET)
    paused = getattr(args, "paused", None)
    if concurrency is UNSET and rate_limit is UNSET and paused is None:
        raise CliError("nothing to set: give --concurrency or --rate-limit", USAGE)

    async def change(jobs: BackgroundJobs) -> tuple[QueueSettings, list[str], set[str]]:
        known = [q.name for q in await jobs.queues()]
        declared = {d.queue or d.worker for d in await jobs.declared_commands()}
        settings = await jobs.set_queue(
            args.name, concurrency=concurrency, rate_limit=rate_limit, paused=paused
        )
        return settings, known, declared

    settings, known, declared = run(_with_store(args.directory, change))
    print(describe(settings))
    if args.name not in known and args.name not in declared:
        # Set all the same (a queue may be held back before its first job), but a typo
        # would otherwise leave the real queue running unnoticed.
        print(
            f"note: no command declares queue {args.name}, and it had no jobs, settings or"
            f" finishes in the last 15 minutes; queues that do: {', '.join(known) or 'none'}",
            file=sys.stderr,
        )
    return 0


def describe(s: QueueSettings) -> str:
    """A queue's settings in one line."""
    concurrency = "no limit" if s.concurrency is None else str(s.concurrency)
    rate = "no limit" if s.rate_limit is None else str(s.rate_limit)
    state = "paused" if s.paused else "active"
    return f"queue {s.name}: {state}, concurrency {concurrency}, rate limit {rate}"


def why_command(args: argparse.Namespace) -> int:
    info: WaitInfo = run(_with_store(args.directory, lambda jobs: jobs.why_waiting(args.job_id)))
    print(f"job {info.job_id} is {info.state}: {info.text}")
    return 0


async def _with_store(directory: str, call: Any) -> Any:
    jobs: BackgroundJobs = open_store(directory)
    try:
        return await call(jobs)
    finally:
        await jobs.close()
