"""`jobs web` refuses what it cannot serve in one line, and runs the app read-only unless
actions are allowed (the browser test is tests/e2e/test_web.py)."""

from __future__ import annotations

import shlex
import socket
from pathlib import Path

from jobs_cli.web import app_command
from tests.cli.conftest import Cli
from tests.cli.test_errors import assert_one_line_error


def test_web_refuses_a_missing_store_and_a_bad_port(cli: Cli, tmp_path: Path, store: str) -> None:
    missing = tmp_path / "nope"
    assert_one_line_error(cli("web", str(missing)), 1, f"{missing} does not exist")
    assert_one_line_error(cli("web", store, "--port", "0"), 2,
                          "--port must be between 1 and 65535, got 0")  # fmt: skip


def test_web_sessions_run_the_app_read_only_unless_actions_are_allowed() -> None:
    """The sessions' `jobs tui` reads the store from $JOBS_STORE, which `jobs web` sets (a
    URL's password stays out of the process list)."""
    read_only = shlex.split(app_command(allow_actions=False))
    assert read_only[-3:] == ["jobs_cli", "tui", "--read-only"]
    allowed = shlex.split(app_command(allow_actions=True))
    assert allowed[-2:] == ["jobs_cli", "tui"]


def test_web_on_an_address_it_cannot_serve_is_one_line_error(cli: Cli, store: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("web", store, "--port", str(port))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"jobs: error: cannot serve on 127.0.0.1:{port}: "), last
    assert "address already in use" in last
