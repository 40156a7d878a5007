"""`jobs web STORE`: the admin app in a browser, served by textual-serve; read-only unless
`--allow-actions`, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import sys
from typing import Any

from jobs_core import mask_store_url

from .common import STORE_ENV, USAGE, CliError, add_store_argument, check_store, run

LOOPBACK = "127.0.0.1"


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "web", help="serve the admin app in a browser (read-only unless --allow-actions)"
    )
    add_store_argument(parser)
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    parser.add_argument(
        "--host", default=LOOPBACK,
        help=f"address to listen on ({LOOPBACK}: this machine only; anyone who can reach "
        "another address can see the jobs)",
    )  # fmt: skip
    parser.add_argument(
        "--allow-actions", action="store_true",
        help="let the browser cancel, requeue and delete jobs (the default is read-only)",
    )  # fmt: skip
    parser.set_defaults(func=web_command, needs_store=True)


def app_command(*, allow_actions: bool) -> str:
    """The command textual-serve runs for each browser session: `jobs tui` on the store,
    which it reads from `$JOBS_STORE` (a URL's password stays out of the process list)."""
    words = [sys.executable, "-m", "jobs_cli", "tui"]
    if not allow_actions:
        words.append("--read-only")
    return shlex.join(words)


def web_command(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise CliError(f"--port must be between 1 and 65535, got {args.port}", USAGE)
    # Open the store once here, so a bad store is one error line, not a blank page (a
    # PostgreSQL store is reached only when opened, not when its facade is made).
    run(check_store(args.directory, read_only=not args.allow_actions))
    try:
        from textual_serve.server import Server
    except ImportError as error:
        raise CliError(f"serving in a browser needs textual-serve: {error}") from None
    if not _loopback(args.host):
        what = "see and change" if args.allow_actions else "see"
        print(f"jobs web: on {args.host} anyone who can reach it can {what} the jobs",
              file=sys.stderr)  # fmt: skip
    mode = "actions allowed" if args.allow_actions else "read-only"
    print(f"jobs web: http://{args.host}:{args.port}/ ({mode})", flush=True)
    os.environ[STORE_ENV] = args.directory  # for the sessions' `jobs tui` (app_command)
    server = Server(
        app_command(allow_actions=args.allow_actions), host=args.host, port=args.port,
        title=f"jobs admin: {mask_store_url(args.directory)}",
    )  # fmt: skip
    try:
        server.serve()
    except OSError as error:  # the address is taken, or names no interface of this machine
        reason = error.strerror or str(error)
        raise CliError(f"cannot serve on {args.host}:{args.port}: {reason}") from None
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
