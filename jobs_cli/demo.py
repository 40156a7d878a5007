"""`jobs demo`: the sample app's engine in a subprocess, a feeder of new work, and the TUI."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import IO, Any

from jobs_core import JobState
from jobs_core.store.url import is_store_url

from .admin import open_tui
from .common import USAGE, CliError, open_store, run, shown
from .demo_app import DEMO_SETTINGS, build
from .demo_feeder import start_feeder
from .status_report import status_line

DEMO_APP = "jobs_cli.demo_app:app"
STATUS_EVERY_SECS = 2.0
"""How often `--no-tui` prints a status line."""
WORKER_LOG = "worker.log"
DEMO_LOG = "demo.log"


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "demo", help="run a sample app with live work and open the admin app on it"
    )
    parser.add_argument(
        "directory", metavar="DIR", nargs="?",
        help="store directory (default: a new temporary directory)",
    )  # fmt: skip
    parser.add_argument(
        "--store", metavar="STORE",
        help="a postgresql:// URL (or a directory) for the demo's store; $JOBS_STORE is "
        "not used, so a demo never fills a real store by accident",
    )  # fmt: skip
    parser.add_argument(
        "--no-tui", action="store_true",
        help="print a status line every few seconds instead of opening the admin app",
    )  # fmt: skip
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after SECONDS")
    parser.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    if args.duration is not None and args.duration <= 0:
        raise CliError(f"--duration must be positive, got {args.duration:g}", USAGE)
    if args.store and args.directory:
        raise CliError("give the demo's store either as DIR or as --store, not both", USAGE)
    directory, logs = _locations(args.store or args.directory)
    run(_create(directory))
    _log_to(os.path.join(logs, DEMO_LOG))
    print(f"jobs demo: store in {shown(directory)}", flush=True)
    with open(os.path.join(logs, WORKER_LOG), "ab") as worker_log:
        worker = start_worker(directory, worker_log)
        print(f"jobs demo: engine pid {worker.pid}, log in {worker_log.name}", flush=True)
        feeder, stop = start_feeder(directory)
        try:
            if args.no_tui:
                run(watch(directory, worker, args.duration, worker_log.name))
            else:
                _foreground_tui(directory, args.duration)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a demo ends
        finally:
            stop.set()
            feeder.join(timeout=10)
            stop_worker(worker)
    print(run(_summary(directory)), flush=True)
    return 0


def _locations(given: str | None) -> tuple[str, str]:
    """The demo's store and the directory for its logs (the store's, or a temporary one)."""
    if given is not None and is_store_url(given):
        return given, tempfile.mkdtemp(prefix="jobs-demo-logs-")
    directory = os.path.abspath(given or tempfile.mkdtemp(prefix="jobs-demo-"))
    return directory, directory


async def _create(location: str) -> None:
    """Create the demo's store, or refuse the location, before anything starts."""
    jobs = build(location, start_engine=False)
    try:
        await jobs.open()
    finally:
        await jobs.close()


def start_worker(directory: str, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """`jobs worker` on the demo app, in its own session so Ctrl-C reaches only the demo,
    which then stops the engine in order."""
    command = [sys.executable, "-m", "jobs_cli", "worker", "--app", DEMO_APP, directory]
    return subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the engine drains), then kill if it overstays the drain timeout."""
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=DEMO_SETTINGS.drain_timeout_secs + 10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


async def watch(
    directory: str, worker: subprocess.Popen[bytes], duration: float | None, log: str
) -> None:
    """Print a status line every few seconds until `duration` passes (or Ctrl-C)."""
    deadline = None if duration is None else time.monotonic() + duration
    jobs = open_store(directory)
    try:
        while True:
            _check_alive(worker, log)
            line = status_line(jobs.clock.now_ms(), await jobs.counts(), await jobs.engines())
            print(line, flush=True)
            left = STATUS_EVERY_SECS if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(STATUS_EVERY_SECS, left))
    finally:
        await jobs.close()


def _check_alive(worker: subprocess.Popen[bytes], log: str) -> None:
    code = worker.poll()
    if code is not None:
        raise CliError(f"the demo engine exited with code {code}; see {log}")


def _foreground_tui(directory: str, duration: float | None) -> None:
    jobs = open_store(directory)
    try:
        open_tui(jobs, quit_after=duration)
    finally:
        run(jobs.close())


async def _summary(directory: str) -> str:
    jobs = open_store(directory)
    try:
        counts = await jobs.counts()
    finally:
        await jobs.close()
    figures = ", ".join(f"{counts.get(s, 0)} {s.value}" for s in JobState)
    where = shown(directory)
    return f"jobs demo: {figures}; the store stays in {where} (jobs tui {where})"


def _log_to(path: str) -> None:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("jobs").addHandler(handler)
    logging.getLogger("jobs").setLevel(logging.INFO)
