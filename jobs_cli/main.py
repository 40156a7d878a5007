"""The `jobs` command line: builds the parser from the command modules and dispatches."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from jobs_core import (
    InvalidOptionError,
    InvalidQueryError,
    InvalidReplyToError,
    InvalidRequestError,
    InvalidScheduleError,
    JobsError,
)
from jobs_core.store.url import mask_urls_in

from . import actions, admin, demo, enqueue, history, listing, metrics, queue, status, web, worker
from .common import FAILURE, USAGE, CliError, store_location

PROG = "jobs"

_NEGATIVE_VALUE = re.compile(r"-\d")
"""A value such as `-5m` or `-1`, which argparse would take for an option."""


BAD_INPUT = (
    InvalidOptionError,
    InvalidQueryError,
    InvalidRequestError,
    InvalidReplyToError,
    InvalidScheduleError,
)
"""Errors about a value given on the command line: usage errors (exit 2)."""


class Parser(argparse.ArgumentParser):
    """argparse with our error form: one line, exit code 2 (subcommands inherit it)."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see '{self.prog} --help')", USAGE)


def build_parser() -> Parser:
    """The top-level parser with one subcommand per command module."""
    parser = Parser(
        prog=PROG,
        description="Durable background jobs on embedded SQLite or PostgreSQL: run, inspect "
        "and administer. STORE is a directory or a postgresql:// URL (default: $JOBS_STORE).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo.add_parser(commands)
    worker.add_parser(commands)
    admin.add_tui_parser(commands)
    enqueue.add_parser(commands)
    status.add_parser(commands)
    listing.add_parser(commands)
    actions.add_parsers(commands)
    web.add_parser(commands)
    metrics.add_parser(commands)
    history.add_purge_parser(commands)
    history.add_search_parser(commands)
    queue.add_parser(commands)
    queue.add_why_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; expected failures end as one `jobs: error: ...` line and exit 1 or 2."""
    try:
        args = build_parser().parse_args(queue.listing_by_default(attach_negative_values(argv)))
        if getattr(args, "needs_store", False):
            args.directory = store_location(args.directory)
        code: int = args.func(args)
    except CliError as error:
        return _fail(str(error), error.code)
    except BAD_INPUT as error:
        return _fail(str(error), USAGE)
    except JobsError as error:
        return _fail(str(error), FAILURE)
    except KeyboardInterrupt:
        return 130
    return code


def attach_negative_values(argv: Sequence[str] | None) -> list[str]:
    """`--opt -5m` as `--opt=-5m`, so a negative value reaches the option (which judges it)
    instead of argparse reading it as an unknown option."""
    args = list(sys.argv[1:] if argv is None else argv)
    joined: list[str] = []
    for arg in args:
        previous = joined[-1] if joined else ""
        if (
            _NEGATIVE_VALUE.match(arg)
            and previous.startswith("--")
            and "=" not in previous
            and previous != "--"
        ):
            joined[-1] = f"{previous}={arg}"
        else:
            joined.append(arg)
    return joined


def _fail(message: str, code: int) -> int:
    # One line, so scripts can show it as is; the message already names the thing at fault.
    # A URL quoted by a lower layer is masked once more here: credentials are never printed.
    print(f"{PROG}: error: {mask_urls_in(' '.join(message.split()))}", file=sys.stderr)
    return code
