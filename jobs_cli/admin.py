"""`jobs tui`: the admin app on an existing store."""

from __future__ import annotations

import argparse
import contextlib
import threading
from typing import Any

from jobs_core import BackgroundJobs

from .common import CliError, add_store_argument, check_store, open_store, run


def add_tui_parser(commands: Any) -> None:
    parser = commands.add_parser("tui", help="open the admin app on an existing store")
    add_store_argument(parser)
    parser.add_argument(
        "--read-only", action="store_true",
        help="open the store read-only: nothing is created, migrated or changed; the keys "
        "that change jobs are hidden",
    )  # fmt: skip
    parser.set_defaults(func=tui_command, needs_store=True)


def open_tui(jobs: BackgroundJobs, *, quit_after: float | None = None) -> None:
    """Run the admin app in the foreground until the user quits it (or `quit_after` secs)."""
    try:
        # Imported here so that the other commands never load Textual.
        # The ignore covers the time before jobs_tui.app lands.
        from jobs_tui.app import JobsApp  # type: ignore[import-not-found, unused-ignore]
    except ImportError as error:
        raise CliError(f"the admin app is not available: {error}") from None
    app = JobsApp(jobs, read_only=jobs.read_only)
    timer = None
    if quit_after is not None:
        timer = threading.Timer(quit_after, _quit, args=(app,))
        timer.daemon = True
        timer.start()
    try:
        app.run()
    finally:
        if timer is not None:
            timer.cancel()


def _quit(app: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the app already closed
        app.call_from_thread(app.exit)


def tui_command(args: argparse.Namespace) -> int:
    run(check_store(args.directory, read_only=args.read_only))  # one error line, not an app
    jobs = open_store(args.directory, read_only=args.read_only)
    try:
        open_tui(jobs)
    finally:
        run(jobs.close())
    return 0
