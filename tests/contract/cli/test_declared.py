"""`jobs enqueue` applies the commands the engines declared in the store, checks requests
against the handler's type, and reads a --run-after without a zone as local time."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from jobs_core import BackgroundJobs, JobState, mask_store_url, to_ms
from tests.cli.conftest import SAMPLE_APP, Cli, Worker, run_engine_once, wait_for_state
from tests.cli.test_errors import assert_one_line_error


async def test_enqueue_without_app_applies_the_declared_worker_retry_and_timeout(
    cli: Cli, store: str, admin: BackgroundJobs
) -> None:
    await run_engine_once(store)
    result = cli("enqueue", store, "send_email", '{"to": "a@b.c", "subject": "hi"}')
    assert (result.returncode, result.stderr) == (0, "")
    job = (await admin.get_job(int(result.stdout))).job
    assert job is not None
    assert (job.worker, job.retry_limit, job.timeout_secs) == ("smtp", 4, 120)


async def test_enqueued_by_name_jobs_keep_their_worker_one_at_a_time(
    cli: Cli, store: str, admin: BackgroundJobs, start_worker: Callable[..., Worker]
) -> None:
    """Five `mail` jobs enqueued by five parallel CLI processes run one at a time on `smtp`,
    as the app declared."""
    await run_engine_once(store)
    results = await asyncio.gather(
        *(
            asyncio.to_thread(cli, "enqueue", store, "mail", json.dumps({"name": f"n{i}"}))
            for i in range(5)
        )
    )
    ids = [int(result.stdout) for result in results]
    worker = start_worker()
    for job_id in ids:
        await wait_for_state(admin, job_id, {JobState.COMPLETED})
    worker.terminate()
    jobs = [(await admin.get_job(i)).job for i in ids]
    spans = sorted((j.started_date, j.completed_date) for j in jobs if j is not None)
    assert all(j is not None and j.worker == "smtp" for j in jobs)
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))


async def test_enqueue_of_an_undeclared_command_warns_and_stores_it(
    cli: Cli, store: str, admin: BackgroundJobs
) -> None:
    result = cli("enqueue", store, "elsewhere", '{"x": 1}')
    assert result.returncode == 0 and result.stdout.strip() == "1"
    assert result.stderr == (
        "jobs: warning: no engine has declared a command named 'elsewhere' on "
        f"{mask_store_url(store)}; "
        "enqueued anyway with the default options and no request check (pass --strict to "
        "refuse)\n"
    )
    assert (await admin.get_job(1)).summary.command == "elsewhere"
    refused = cli("enqueue", store, "elsewhere", "--strict")
    assert refused.returncode == 1 and refused.stderr.startswith("jobs: error: no engine ")
    assert (await admin.counts())[JobState.QUEUED] == 1


async def test_request_is_checked_against_the_handler_type(
    cli: Cli, store: str, admin: BackgroundJobs
) -> None:
    expected = (
        "the request of command 'send_email' does not fit tests.cli.sample_app.SendEmail: "
        "subject: missing (required); to: expected string, got integer"
    )
    with_app = cli("enqueue", store, "send_email", '{"to": 1}', "--app", SAMPLE_APP)
    assert_one_line_error(with_app, 2, expected)
    await run_engine_once(store)
    assert_one_line_error(cli("enqueue", store, "send_email", '{"to": 1}'), 2, expected)
    assert sum((await admin.counts()).values()) == 0


async def test_run_after_without_a_zone_is_local_time(
    cli: Cli, store: str, admin: BackgroundJobs
) -> None:
    await run_engine_once(store)
    tokyo = {"TZ": "Asia/Tokyo"}
    local = cli("enqueue", store, "greet", "--run-after", "2030-01-02T09:00:00", env=tokyo)
    utc = cli("enqueue", store, "greet", "--run-after", "2030-01-02T09:00:00Z", env=tokyo)
    assert local.returncode == utc.returncode == 0, local.stderr + utc.stderr
    local_job = (await admin.get_job(int(local.stdout))).job
    utc_job = (await admin.get_job(int(utc.stdout))).job
    assert local_job is not None and utc_job is not None
    nine_in_tokyo = datetime(2030, 1, 2, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    assert local_job.run_after == to_ms(nine_in_tokyo)
    assert utc_job.run_after - local_job.run_after == 9 * 3600 * 1000
