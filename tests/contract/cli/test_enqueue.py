"""`jobs enqueue` stores what it is given; `jobs status` then shows it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from jobs_core import BackgroundJobs, JobState, mask_store_url, to_ms
from tests.cli.conftest import SAMPLE_APP, Cli, run_engine_once


async def test_enqueue_with_app_stores_every_option(
    cli: Cli, store: str, admin: BackgroundJobs
) -> None:
    parent = int(cli("enqueue", store, "greet", "--app", SAMPLE_APP).stdout)
    result = cli(
        "enqueue", store, "greet", '{"name": "ada"}', "--app", SAMPLE_APP,
        "--tag", "t", "--batch-id", "b1", "--ref-id", "r1", "--worker", "w1",
        "--run-after", "2030-01-02T03:04:05Z", "--depends-on", str(parent),
        "--retry-limit", "5", "--timeout", "7.5", "--created-by", "ops",
        "--user-id", "u1", "--callback", "greet", "--arg", "a=1", "--arg", "b=x=y",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = (await admin.get_job(int(result.stdout))).job
    assert job is not None
    assert (job.command, json.loads(job.request_body)) == ("greet", {"name": "ada"})
    assert (job.tag, job.batch_id, job.ref_id, job.worker) == ("t", "b1", "r1", "w1")
    assert job.run_after == to_ms(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert (job.depends_on, job.retry_limit, job.timeout_secs) == (parent, 5, 7.5)
    assert (job.created_by, job.user_id, job.callback) == ("ops", "u1", "greet")
    assert job.args == {"a": "1", "b": "x=y"}


async def test_enqueue_without_app_uses_engine_commands(
    cli: Cli, store: str, admin: BackgroundJobs
) -> None:
    await run_engine_once(store)
    result = cli("enqueue", store, "greet", '{"name": "bo"}')
    assert result.returncode == 0, result.stderr
    found = await admin.get_job(int(result.stdout))
    assert (found.state, found.summary.command) == (JobState.QUEUED, "greet")


def test_enqueue_then_status_shows_job(cli: Cli, store: str) -> None:
    job_id = cli("enqueue", store, "greet", "--app", SAMPLE_APP).stdout.strip()
    assert job_id == "1"
    text = cli("status", store).stdout
    assert text.startswith(f"# JOBS STATUS: {mask_store_url(store)}\n")
    assert "  queued:    1\n" in text and "  total:     1\n" in text
    assert "# ENGINES: 0 alive, 0 stale, 0 dead, 0 stopped" in text
    report = json.loads(cli("status", store, "--json").stdout)
    assert report["counts"]["queued"] == 1
    assert report["directory"] == mask_store_url(store)
