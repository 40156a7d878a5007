"""The `jobs` command line: builds the parser from the command modules and dispatches."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jobs_core import JobsError
from jobs_core.store.url import mask_urls_in

from . import admin, demo, enqueue, status, worker
from .common import FAILURE, CliError, store_location

PROG = "jobs"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subcommand per command module."""
    parser = argparse.ArgumentParser(
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
    admin.add_cancel_parser(commands)
    admin.add_requeue_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; expected failures end as one `jobs: error: ...` line and exit 1 or 2."""
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "needs_store", False):
            args.directory = store_location(args.directory)
        code: int = args.func(args)
    except CliError as error:
        return _fail(str(error), error.code)
    except JobsError as error:
        return _fail(str(error), FAILURE)
    except KeyboardInterrupt:
        return 130
    return code


def _fail(message: str, code: int) -> int:
    # One line, so scripts can show it as is; the message already names the thing at fault.
    # A URL quoted by a lower layer is masked once more here: credentials are never printed.
    print(f"{PROG}: error: {mask_urls_in(' '.join(message.split()))}", file=sys.stderr)
    return code
