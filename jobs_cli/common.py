"""What every command shares: the CLI error, opening a store, loading an app, parsing values."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from jobs_core import BackgroundJobs, mask_store_url
from jobs_core.store.url import foreign_scheme, is_store_url

T = TypeVar("T")

USAGE = 2
"""Exit code of a command line that cannot be used as given."""
FAILURE = 1
"""Exit code of a command that was understood but failed."""

APP_DIR_ENV = "JOBS_DIR"
"""Set to the store location before an `--app` module is imported, for module-level apps."""

STORE_ENV = "JOBS_STORE"
"""The default store of every command: a directory or a `postgresql://` URL."""

STORE_HELP = f"store directory or postgresql:// URL (default: ${STORE_ENV})"

MAX_DELAY_DAYS = 365_000
"""The longest delay or age a time option takes (a thousand years): every instant a command
derives from it (now plus or minus it) stays within datetime's years 1 to 9999."""
MAX_DELAY_SECS = MAX_DELAY_DAYS * 86400

_RELATIVE = re.compile(r"^\+?(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class CliError(Exception):
    """A failure reported as one line on stderr with its exit code, never as a traceback."""

    def __init__(self, message: str, code: int = FAILURE) -> None:
        super().__init__(message)
        self.code = code


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine to completion."""
    return asyncio.run(coro)


def add_store_argument(parser: Any, *, optional: bool = True) -> None:
    """The STORE positional (dest `directory`); optional when `$JOBS_STORE` can stand in."""
    parser.add_argument(
        "directory", metavar="STORE", nargs="?" if optional else None, help=STORE_HELP
    )


def store_location(given: str | None) -> str:
    """The store a command works on: the one given, else `$JOBS_STORE`; a directory is
    made absolute, a URL is kept as written."""
    location = given or os.environ.get(STORE_ENV)
    if not location:
        raise CliError(f"no store given: pass STORE or set {STORE_ENV}", USAGE)
    scheme = foreign_scheme(location)
    if scheme is not None and not os.path.isdir(location):
        # Made absolute it would name a missing directory (and print the URL's password).
        raise CliError(
            f"a store is a directory or a postgresql:// URL, not a {scheme}:// URL", USAGE
        )
    return location if is_store_url(location) else os.path.abspath(location)


def shown(location: str) -> str:
    """The store as messages show it: an absolute directory, or the URL masked."""
    return mask_store_url(location) if is_store_url(location) else os.path.abspath(location)


def open_store(directory: str, *, read_only: bool = False) -> BackgroundJobs:
    """A facade on an existing store, without an engine (admin commands never create one);
    `read_only` opens every connection read-only (nothing created, migrated or written)."""
    return BackgroundJobs(directory, create=False, start_engine=False, read_only=read_only)


async def check_store(location: str, *, read_only: bool = False) -> None:
    """Open the existing store at `location` and close it: errors surface now."""
    jobs = open_store(location, read_only=read_only)
    try:
        await jobs.open()
    finally:
        await jobs.close()


def load_app(spec: str, directory: str) -> BackgroundJobs:
    """The BackgroundJobs that `module:object` names: the object itself or what it returns
    when called with `directory`."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise CliError(f"--app '{spec}': expected module:object, e.g. myapp.jobs:app", USAGE)
    os.environ[APP_DIR_ENV] = store_location(directory)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise CliError(f"--app '{spec}': cannot import module '{module_name}': {error}") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise CliError(f"--app '{spec}': module '{module_name}' has no attribute '{attr}'")
        target = getattr(target, part)
    jobs = target if isinstance(target, BackgroundJobs) else _call_factory(spec, target, directory)
    _check_directory(spec, jobs, directory)
    return jobs


def _call_factory(spec: str, factory: Any, directory: str) -> BackgroundJobs:
    if not callable(factory):
        raise CliError(
            f"--app '{spec}': expected a BackgroundJobs or a callable returning one, "
            f"got {type(factory).__name__}"
        )
    jobs = factory(directory)
    if not isinstance(jobs, BackgroundJobs):
        raise CliError(
            f"--app '{spec}': calling it returned {type(jobs).__name__}, not a BackgroundJobs"
        )
    return jobs


def _check_directory(spec: str, jobs: BackgroundJobs, directory: str) -> None:
    # A module-level app picks its own directory; running it against another store by
    # mistake would silently work on the wrong data.
    own = jobs.location
    if is_store_url(own) or is_store_url(directory):
        if own != shown(directory):
            raise CliError(f"--app '{spec}': its store is {own}, not {shown(directory)}")
    elif os.path.realpath(own) != os.path.realpath(directory):
        raise CliError(f"--app '{spec}': its store is {own}, not {os.path.abspath(directory)}")


def parse_json(text: str | None) -> Any:
    """The request given on the command line, or None when there is none."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CliError(f"the request is not valid JSON: {error}", USAGE) from None


def parse_when(text: str, option: str = "--run-after") -> datetime | timedelta:
    """`--run-after` (or `option`): a delay such as `30s`, `5m`, `2h`, `90d`, or an ISO
    date-time; one without a time zone is the machine's local time (as `date` shows it),
    never silently UTC."""
    stripped = text.strip()
    relative = _RELATIVE.match(stripped)
    if relative:
        delay = float(relative[1]) * _UNIT_SECONDS[relative[2]]
        if delay > MAX_DELAY_SECS:
            raise CliError(
                f"{option} '{text}' is too far away; give at most {MAX_DELAY_DAYS:,}d", USAGE
            )
        return timedelta(seconds=delay)
    if _RELATIVE.match(stripped.lstrip("-")):
        raise CliError(
            f"{option} '{text}' is a negative delay; give a delay of 0 or more (30s, 5m) "
            "or a date-time",
            USAGE,
        )
    try:
        when = datetime.fromisoformat(stripped)
    except ValueError:
        raise CliError(
            f"{option} '{text}': expected a delay (30s, 5m, 2h, 1d) or an ISO date-time "
            "(2026-11-02T09:00:00Z; without a zone it is local time)",
            USAGE,
        ) from None
    try:
        # Local time, and the instants commands derive from it, must stay within datetime's
        # years 1 to 9999 (`0001-01-01` in a zone east of UTC is in year 0).
        aware = when if when.tzinfo is not None else when.astimezone()
        aware.astimezone(UTC)
    except (ValueError, OverflowError):
        raise CliError(f"{option} '{text}' is out of range (years 2 to 9998)", USAGE) from None
    if not 2 <= aware.year <= 9998:
        raise CliError(f"{option} '{text}' is out of range (years 2 to 9998)", USAGE)
    return aware


def parse_args_option(pairs: list[str]) -> dict[str, str]:
    """`--arg key=value` options as a dict."""
    args: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--arg '{pair}': expected key=value", USAGE)
        args[key] = value
    return args
