"""Every expected failure of the CLI: one `jobs: error:` line on stderr, exit 1 or 2."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import SAMPLE_APP, Cli, run_engine_once


def assert_one_line_error(result: object, code: int, message: str) -> None:
    stdout, stderr, returncode = (getattr(result, k) for k in ("stdout", "stderr", "returncode"))
    assert (returncode, stdout, stderr) == (code, "", f"jobs: error: {message}\n")


def ran_engine(directory: str) -> None:
    asyncio.run(run_engine_once(directory))


@pytest.mark.parametrize("command", [["status"], ["tui"], ["cancel", "-", "1"]])
def test_cli_missing_directory_is_one_line_error(
    cli: Cli, tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "nope"
    args = [command[0], str(missing), *command[2:]]
    assert_one_line_error(cli(*args), 1, f"{missing} does not exist")


def test_cli_directory_without_store_is_refused(cli: Cli, tmp_path: Path) -> None:
    assert_one_line_error(
        cli("status", str(tmp_path)), 1, f"{tmp_path} is not a jobs store (it has no jobs.db)"
    )


def test_cli_file_as_directory_is_refused(cli: Cli, tmp_path: Path) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x")
    assert_one_line_error(cli("requeue", str(file), "3"), 1, f"{file} is not a directory")


def test_cli_foreign_sqlite_database_is_refused(cli: Cli, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "jobs.db") as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.close()
    expected = f"{tmp_path / 'jobs.db'} is an SQLite database but not a jobs store"
    assert_one_line_error(cli("status", str(tmp_path)), 1, expected)


def test_cli_newer_schema_is_refused(cli: Cli, store: str) -> None:
    with sqlite3.connect(os.path.join(store, "jobs.db")) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    result = cli("status", store)
    assert result.returncode == 1
    assert result.stderr.startswith(f"jobs: error: {store}/jobs.db has schema version 99, newer ")
    assert result.stderr.endswith("upgrade jobs to open it\n")
    assert result.stderr.count("\n") == 1


def test_enqueue_unknown_command_with_app_is_refused(cli: Cli, store: str) -> None:
    result = cli("enqueue", store, "nope", "--app", SAMPLE_APP)
    assert result.returncode == 1
    assert result.stderr.startswith("jobs: error: no command named 'nope' is registered here ")
    assert "greet" in result.stderr and result.stderr.count("\n") == 1


def test_enqueue_strict_refuses_undeclared_command_naming_declared_ones(
    cli: Cli, store: str
) -> None:
    ran_engine(store)
    expected = (
        f"no engine has declared a command named 'nope' on {store} (declared: block, explode, "
        "greet, mail, send_email, slow); start an engine that runs it, or leave out --strict"
    )
    assert_one_line_error(cli("enqueue", store, "nope", "--strict"), 1, expected)


@pytest.mark.parametrize("action", ["cancel", "requeue"])
def test_admin_unknown_job_id_is_refused(cli: Cli, store: str, action: str) -> None:
    assert_one_line_error(cli(action, store, "999"), 1, "there is no job 999")


def test_enqueue_bad_json_names_the_problem(cli: Cli, store: str) -> None:
    expected = (
        "the request is not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)"
    )
    result = cli("enqueue", store, "greet", "{name: 1}", "--app", SAMPLE_APP)
    assert_one_line_error(result, 2, expected)


@pytest.mark.parametrize(
    ("option", "code", "message"),
    [
        ("nocolon", 2, "--app 'nocolon': expected module:object, e.g. myapp.jobs:app"),
        ("no_such_mod:app", 1,
         "--app 'no_such_mod:app': cannot import module 'no_such_mod': "
         "No module named 'no_such_mod'"),
        ("tests.cli.sample_app:missing", 1,
         "--app 'tests.cli.sample_app:missing': module 'tests.cli.sample_app' has no "
         "attribute 'missing'"),
        ("tests.cli.sample_app:not_an_app", 1,
         "--app 'tests.cli.sample_app:not_an_app': expected a BackgroundJobs or a callable "
         "returning one, got int"),
    ],
)  # fmt: skip
def test_cli_bad_app_is_refused(cli: Cli, store: str, option: str, code: int, message: str) -> None:
    assert_one_line_error(cli("enqueue", store, "greet", "--app", option), code, message)
    assert_one_line_error(cli("worker", "--app", option, store), code, message)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--run-after", "-5m"],
         "--run-after '-5m' is a negative delay; give a delay of 0 or more (30s, 5m) or a "
         "date-time"),
        (["--run-after=-5m"],
         "--run-after '-5m' is a negative delay; give a delay of 0 or more (30s, 5m) or a "
         "date-time"),
        (["--run-after"],
         "argument --run-after: expected one argument (see 'jobs enqueue --help')"),
        (["--retry-limit", "many"],
         "argument --retry-limit: invalid int value: 'many' (see 'jobs enqueue --help')"),
        (["--depends-on", "-3"], "depends_on must be a job id (1 or more), got -3"),
        (["--retry-limit", "-1"], "retry_limit must be >= 0, got -1"),
        (["--timeout", "-2.5"], "timeout must be > 0 seconds, got -2.5"),
        (["--tag", ""], "tag must not be empty; leave it out (None) instead"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate (see 'jobs --help')"),
        (["--run-after", "soonish"],
         "--run-after 'soonish': expected a delay (30s, 5m, 2h, 1d) or an ISO date-time "
         "(2026-11-02T09:00:00Z; without a zone it is local time)"),
        (["--arg", "novalue"], "--arg 'novalue': expected key=value"),
    ],
)  # fmt: skip
def test_enqueue_bad_option_is_one_line_error(
    cli: Cli, store: str, options: list[str], message: str
) -> None:
    result = cli("enqueue", store, "greet", "--app", SAMPLE_APP, *options)
    assert_one_line_error(result, 2, message)


@pytest.mark.parametrize(
    ("minutes", "message"),
    [("-5", "must be at least 1, got -5"), ("0", "must be at least 1, got 0"),
     ("soon", "expected a whole number of minutes, got 'soon'")],
)  # fmt: skip
def test_status_minutes_below_one_is_one_line_usage_error(
    cli: Cli, store: str, minutes: str, message: str
) -> None:
    expected = f"argument --minutes: {message} (see 'jobs status --help')"
    assert_one_line_error(cli("status", store, "--minutes", minutes), 2, expected)


@pytest.mark.parametrize("command", [[], ["enqueue"], ["status"], ["worker"]])
def test_cli_help_still_works(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"usage: jobs{''.join(' ' + c for c in command)} ")


def test_enqueue_help_documents_local_time_and_strict(cli: Cli) -> None:
    text = " ".join(cli("enqueue", "--help").stdout.split())
    assert "without a zone (2026-11-02T09:00) it is this machine's local time" in text
    assert "--strict refuse a command (or callback) that no engine has declared" in text


def test_cli_without_command_is_usage_error(cli: Cli) -> None:
    expected = "the following arguments are required: COMMAND (see 'jobs --help')"
    assert_one_line_error(cli(), 2, expected)


def test_cli_unknown_command_is_usage_error(cli: Cli) -> None:
    result = cli("frobnicate")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("jobs: error: argument COMMAND: invalid choice: 'frobnicate'")
