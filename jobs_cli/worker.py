"""`jobs worker`: run an app's engine on a store until SIGINT/SIGTERM, then drain."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
from typing import Any

from jobs_core import BackgroundJobs

from .common import USAGE, CliError, add_store_argument, load_app, run

log = logging.getLogger("jobs.worker")


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "worker", help="run the engine of an app on a store until interrupted"
    )
    parser.add_argument(
        "--app", required=True, metavar="MODULE:OBJECT",
        help="a BackgroundJobs, or a callable taking the store location and returning one",
    )  # fmt: skip
    parser.add_argument("--concurrency", type=int, metavar="N", help="jobs run at once")
    add_store_argument(parser)
    parser.set_defaults(func=worker_command, needs_store=True)


def worker_command(args: argparse.Namespace) -> int:
    if args.concurrency is not None and args.concurrency < 1:
        raise CliError(f"--concurrency must be at least 1, got {args.concurrency}", USAGE)
    _configure_logging()
    jobs = load_app(args.app, args.directory)
    if args.concurrency is not None:
        # The engine reads its settings when it starts, so replacing them here is enough.
        jobs.settings = dataclasses.replace(jobs.settings, concurrency=args.concurrency)
    run(serve(jobs))
    return 0


async def serve(jobs: BackgroundJobs) -> None:
    """Run the engine until SIGINT or SIGTERM, then drain running jobs and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _on_signal, stop, signum)
    try:
        async with jobs:
            commands = ", ".join(jobs.registry.names())
            log.info(
                "engine %s running on %s (commands: %s)", jobs.engine.id, jobs.location, commands
            )
            await stop.wait()
            log.info("draining running jobs")
        log.info("stopped")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _on_signal(stop: asyncio.Event, signum: int) -> None:
    log.info("received %s", signal.Signals(signum).name)
    stop.set()


def _configure_logging() -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
