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
        (["--retry-limit", str(2**63)],
         f"retry_limit must be at most 2147483647, got {2**63}"),
        (["--concurrency-key", "k", "--concurrency-limit", str(2**31)],
         f"concurrency_limit must be at most 2147483647, got {2**31}"),
        (["--parent-id", str(2**63)],
         f"parent_id must be a job id (at most 9223372036854775807), got {2**63}"),
        (["--run-after", "99999999999d"],
         "--run-after '99999999999d' is too far away; give at most 365,000d"),
        (["--expires-in", "400000d"],
         "--expires-in '400000d' is too far away; give at most 365,000d"),
        (["--run-after", "0001-01-01"],
         "--run-after '0001-01-01' is out of range (years 2 to 9998)"),
        (["--tag", os.fsdecode(b"\xff")], "argument '\\udcff' is not valid UTF-8"),
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
     ("soon", "expected a whole number of minutes, got 'soon'"),
     ("99999999999", "must be at most 10080 (a week), got 99999999999")],
)  # fmt: skip
def test_status_minutes_outside_one_to_a_week_is_one_line_usage_error(
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


@pytest.mark.parametrize("action", ["cancel", "requeue", "delete", "why"])
def test_admin_job_id_past_64_bits_is_no_job(cli: Cli, store: str, action: str) -> None:
    huge = str(10**30)
    assert_one_line_error(cli(action, store, huge), 1, f"there is no job {huge}")


@pytest.mark.parametrize(
    ("args", "message"),
    [(["purge", "STORE", "--older-than", "99999999999d"],
      "--older-than '99999999999d' is too far away; give at most 365,000d"),
     (["purge", "STORE", "--older-than", "0001-01-01"],
      "--older-than '0001-01-01' is out of range (years 2 to 9998)"),
     (["search", "STORE", "boom", "--since", "99999999999d"],
      "--since '99999999999d' is too far away; give at most 365,000d"),
     (["search", "STORE", "boom", "--limit", str(2**31)],
      f"limit must be at most 2147483647, got {2**31}"),
     (["queue", "set", "STORE", "email", "--concurrency", str(2**31)],
      f"concurrency must be at most 2147483647, got {2**31}"),
     (["queue", "set", "STORE", "email", "--rate-limit", f"{2**31}/1s"],
      f"argument --rate-limit: RateLimit: limit must be at most 2147483647, got {2**31} "
      "(or 'none' for no limit) (see 'jobs queue set --help')"),
     (["queue", "set", "STORE", "email", "--rate-limit", "5/99999999999d"],
      "argument --rate-limit: the window is too long, got '5/99999999999d' (or 'none' for no "
      "limit) (see 'jobs queue set --help')"),
     (["list", "STORE", os.fsdecode(b"caf\xe9")], "argument 'caf\\udce9' is not valid UTF-8"),
     (["search", "STORE"], "search: give TEXT after the store STORE"),
     (["enqueue", "STORE"], "enqueue: give COMMAND after the store STORE"),
     (["cancel", "STORE"], "cancel: give a job ID or --query")],
)  # fmt: skip
def test_out_of_range_and_incomplete_command_lines_are_one_line_usage_errors(
    cli: Cli, store: str, args: list[str], message: str
) -> None:
    given = [store if a == "STORE" else a for a in args]
    assert_one_line_error(cli(*given), 2, message.replace("STORE", store))


def test_store_url_of_another_scheme_is_refused_without_its_password(cli: Cli) -> None:
    expected = "a store is a directory or a postgresql:// URL, not a mysql:// URL"
    assert_one_line_error(cli("status", "mysql://app:hunter2@db/jobs"), 2, expected)


def test_enqueue_warning_is_one_line_not_a_python_warning(cli: Cli, store: str) -> None:
    ran_engine(store)
    reply_to = "user:$JOBS_NO_SUCH_VAR@http://example.com/done"
    result = cli("enqueue", store, "greet", "{}", "--reply-to", reply_to)
    assert result.returncode == 0 and result.stdout.strip().isdigit(), result.stderr
    assert result.stderr.startswith("jobs: warning: reply_to uses $JOBS_NO_SUCH_VAR, which is not")
    assert result.stderr.count("\n") == 1


def test_cli_an_emptied_jobs_db_beside_month_databases_is_one_line_error(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "jobs.db").write_bytes(b"")
    (tmp_path / "jobs_2026-11.db").write_bytes(b"")
    expected = (
        f"{tmp_path / 'jobs.db'} is empty, but the store has month databases (2026-11): its "
        "live database was lost or truncated; restore it from a backup (a new one would "
        "number jobs from 1 again, under the archived ones)"
    )
    assert_one_line_error(cli("status", str(tmp_path)), 1, expected)
    assert (tmp_path / "jobs.db").stat().st_size == 0
