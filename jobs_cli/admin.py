"""`jobs tui`, `jobs cancel` and `jobs requeue`: operator actions on an existing store."""

from __future__ import annotations

import argparse
import contextlib
import threading
from typing import Any

from jobs_core import BackgroundJobs, JobState

from .common import CliError, add_store_argument, check_store, open_store, run


def add_tui_parser(commands: Any) -> None:
    parser = commands.add_parser("tui", help="open the admin app on an existing store")
    add_store_argument(parser)
    parser.set_defaults(func=tui_command, needs_store=True)


def add_cancel_parser(commands: Any) -> None:
    parser = commands.add_parser("cancel", help="cancel a queued or running job")
    add_store_argument(parser)
    parser.add_argument("job_id", metavar="ID", type=int, help="the job id")
    parser.set_defaults(func=cancel_command, needs_store=True)


def add_requeue_parser(commands: Any) -> None:
    parser = commands.add_parser("requeue", help="requeue a failed or cancelled job")
    add_store_argument(parser)
    parser.add_argument("job_id", metavar="ID", type=int, help="the job id")
    parser.set_defaults(func=requeue_command, needs_store=True)


def open_tui(jobs: BackgroundJobs, *, quit_after: float | None = None) -> None:
    """Run the admin app in the foreground until the user quits it (or `quit_after` secs)."""
    try:
        # Imported here so that the other commands never load Textual.
        # The ignore covers the time before jobs_tui.app lands.
        from jobs_tui.app import JobsApp  # type: ignore[import-not-found, unused-ignore]
    except ImportError as error:
        raise CliError(f"the admin app is not available: {error}") from None
    app = JobsApp(jobs)
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
    run(check_store(args.directory))  # a bad store is a one-line error, not an app
    jobs = open_store(args.directory)
    try:
        open_tui(jobs)
    finally:
        run(jobs.close())
    return 0


def cancel_command(args: argparse.Namespace) -> int:
    state = run(_cancel(args.directory, args.job_id))
    if state is JobState.STARTED:
        print(f"job {args.job_id} is running: its engine was asked to stop it")
    else:
        print(f"job {args.job_id} {state}")
    return 0


async def _cancel(directory: str, job_id: int) -> JobState:
    jobs = open_store(directory)
    try:
        return await jobs.cancel(job_id)
    finally:
        await jobs.close()


def requeue_command(args: argparse.Namespace) -> int:
    ids = run(_requeue(args.directory, args.job_id))
    print(f"requeued {', '.join(str(i) for i in ids)}")
    return 0


async def _requeue(directory: str, job_id: int) -> list[int]:
    jobs = open_store(directory)
    try:
        return await jobs.requeue(job_id)
    finally:
        await jobs.close()
