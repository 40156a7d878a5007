"""The `jobs` command line: builds the parser from the command modules and dispatches."""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn, TextIO

from jobs_core import (
    InvalidOptionError,
    InvalidQueryError,
    InvalidReplyToError,
    InvalidRequestError,
    InvalidScheduleError,
    JobsError,
    JobsWarning,
)
from jobs_core.store.url import mask_urls_in

from . import actions, admin, demo, enqueue, history, listing, metrics, queue, status, web, worker
from .common import FAILURE, STORE_ENV, USAGE, CliError, store_location

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
    """Run one command; expected failures end as one `jobs: error: ...` line and exit 1 or 2,
    and a `JobsWarning` as one `jobs: warning: ...` line."""
    shown_before = warnings.showwarning

    def show(
        message: Warning | str, category: type[Warning], filename: str, lineno: int,
        file: TextIO | None = None, line: str | None = None,
    ) -> None:  # fmt: skip
        # A JobsWarning is for the operator, not a source line of ours to debug.
        if issubclass(category, JobsWarning):
            print(f"{PROG}: warning: {mask_urls_in(str(message))}", file=sys.stderr)
        else:
            shown_before(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        return _main(argv)
    finally:
        warnings.showwarning = shown_before


def _main(argv: Sequence[str] | None) -> int:
    try:
        words = attach_negative_values(argv)
        _check_encodable(words)
        args = build_parser().parse_args(queue.listing_by_default(words))
        _name_missing_word(args)
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


_LAST_WORDS = (("text", "TEXT"), ("job_command", "COMMAND"))
"""Positionals after STORE that argparse fills with a lone STORE (`jobs search DIR`)."""


def _name_missing_word(args: argparse.Namespace) -> None:
    """`jobs search STORE` (or `jobs enqueue STORE`) with no $JOBS_STORE: argparse read the
    store as the TEXT (COMMAND), so say that word is missing, not the store."""
    if getattr(args, "directory", "") is not None or os.environ.get(STORE_ENV):
        return
    for dest, metavar in _LAST_WORDS:
        word = getattr(args, dest, None)
        if isinstance(word, str) and queue.is_store(word):
            raise CliError(f"{args.command}: give {metavar} after the store {word}", USAGE)


def _check_encodable(words: list[str]) -> None:
    """Refuse an argument that is not UTF-8: Python hands it over with lone surrogates
    (`surrogateescape`), which no store can hold."""
    for word in words:
        if not word.isascii():
            try:
                word.encode()
            except UnicodeEncodeError:
                raise CliError(f"argument {word!a} is not valid UTF-8", USAGE) from None


def _fail(message: str, code: int) -> int:
    # One line, so scripts can show it as is; the message already names the thing at fault.
    # A URL quoted by a lower layer is masked once more here: credentials are never printed.
    print(f"{PROG}: error: {mask_urls_in(' '.join(message.split()))}", file=sys.stderr)
    return code
