"""The CLI on a PostgreSQL URL: the demo, $JOBS_STORE for enqueue, masked credentials."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs_core import BackgroundJobs, JobState, mask_store_url
from tests.cli.conftest import SAMPLE_APP, run_cli
from tests.conftest import create_store
from tests.pg_server import PASSWORD


async def test_demo_runs_on_a_postgresql_url_and_never_prints_the_password(
    store_url: str, tmp_path: Path
) -> None:
    # Its logs go to a new temporary directory (the store has none): the test's, here.
    result = run_cli(
        "demo", "--store", store_url, "--no-tui", "--duration", "4", timeout=90,
        env={"TMPDIR": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    masked = mask_store_url(store_url)
    lines = result.stdout.splitlines()
    assert lines[0] == f"jobs demo: store in {masked}"
    assert f"log in {tmp_path}{os.sep}jobs-demo-logs-" in lines[1]
    assert any(" engines alive 1" in line for line in lines)
    assert lines[-1].endswith(f"; the store stays in {masked} (jobs tui {masked})")
    assert PASSWORD not in result.stdout + result.stderr
    jobs = BackgroundJobs(store_url, create=False, start_engine=False)
    try:
        assert (await jobs.counts())[JobState.COMPLETED] > 0
    finally:
        await jobs.close()


def test_demo_refuses_a_directory_and_a_store_at_once(store_url: str, tmp_path: object) -> None:
    result = run_cli("demo", str(tmp_path), "--store", store_url)
    assert (result.returncode, result.stdout) == (2, "")
    assert "either as DIR or as --store" in result.stderr


async def test_enqueue_with_jobs_store_takes_command_and_json(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_store(store_url)
    monkeypatch.setenv("JOBS_STORE", store_url)
    result = run_cli("enqueue", "greet", '{"name": "ada"}', "--app", SAMPLE_APP)
    assert result.returncode == 0, result.stderr
    jobs = BackgroundJobs(store_url, create=False, start_engine=False)
    try:
        found = await jobs.get_job(int(result.stdout))
        assert found.job is not None and found.job.request_body == '{"name":"ada"}'
    finally:
        await jobs.close()


def test_no_store_and_no_jobs_store_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOBS_STORE", raising=False)
    result = run_cli("status")
    assert (result.returncode, result.stderr) == (
        2, "jobs: error: no store given: pass STORE or set JOBS_STORE\n",
    )  # fmt: skip
