"""`jobs worker` in a subprocess runs jobs the CLI enqueued, drains on SIGTERM, obeys cancel."""

from __future__ import annotations

import json
from collections.abc import Callable

from jobs_core import BackgroundJobs, JobState
from tests.cli.conftest import SAMPLE_APP, Cli, Worker, wait_for_state


def enqueue(cli: Cli, store: str, command: str, *rest: str) -> int:
    result = cli("enqueue", store, command, *rest, "--app", SAMPLE_APP)
    assert (result.returncode, result.stderr) == (0, "")
    return int(result.stdout)


async def test_worker_runs_job_enqueued_from_cli(
    cli: Cli, store: str, admin: BackgroundJobs, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker()
    job_id = enqueue(cli, store, "greet", '{"name": "ada"}', "--tag", "t1", "--arg", "k=v")
    done = await wait_for_state(admin, job_id, {JobState.COMPLETED})
    assert done.job is not None
    assert (done.job.response_body, done.job.tag, done.job.args) == (
        '"hello ada"',
        "t1",
        {"k": "v"},
    )
    code, err = worker.terminate()
    assert code == 0
    assert "stopped" in err.splitlines()[-1]


async def test_worker_sigterm_drains_running_job(
    cli: Cli, store: str, admin: BackgroundJobs, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker()
    job_id = enqueue(cli, store, "slow", '{"seconds": 1.5}')
    await wait_for_state(admin, job_id, {JobState.STARTED})
    code, err = worker.terminate()
    assert code == 0
    assert "received SIGTERM" in err and "draining running jobs" in err
    assert (await admin.get_job(job_id)).state is JobState.COMPLETED


async def test_cancel_running_job_from_cli(
    cli: Cli, store: str, admin: BackgroundJobs, start_worker: Callable[..., Worker]
) -> None:
    start_worker()
    job_id = enqueue(cli, store, "block")
    await wait_for_state(admin, job_id, {JobState.STARTED})
    result = cli("cancel", store, str(job_id))
    assert result.stdout == f"job {job_id} is running: its engine was asked to stop it\n"
    await wait_for_state(admin, job_id, {JobState.CANCELLED})


async def test_cancel_then_requeue_queued_job_from_cli(
    cli: Cli, store: str, admin: BackgroundJobs
) -> None:
    job_id = enqueue(cli, store, "greet", "--run-after", "1h")
    assert cli("cancel", store, str(job_id)).stdout == f"job {job_id} cancelled\n"
    assert (await admin.get_job(job_id)).state is JobState.CANCELLED
    assert cli("requeue", store, str(job_id)).stdout == f"requeued {job_id}\n"
    assert (await admin.get_job(job_id)).state is JobState.QUEUED


async def test_requeue_failed_job_runs_it_again(
    cli: Cli, store: str, admin: BackgroundJobs, start_worker: Callable[..., Worker]
) -> None:
    start_worker()
    job_id = enqueue(cli, store, "explode")
    failed = await wait_for_state(admin, job_id, {JobState.FAILED})
    assert failed.summary.error_message == "boom"
    assert cli("requeue", store, str(job_id)).stdout == f"requeued {job_id}\n"
    again = await wait_for_state(admin, job_id, {JobState.FAILED})
    assert again.summary.completed_date != failed.summary.completed_date


async def test_cancel_finished_job_is_refused(
    cli: Cli, store: str, admin: BackgroundJobs, start_worker: Callable[..., Worker]
) -> None:
    start_worker()
    job_id = enqueue(cli, store, "greet", "{}")
    await wait_for_state(admin, job_id, {JobState.COMPLETED})
    result = cli("cancel", store, str(job_id))
    expected = (
        f"jobs: error: job {job_id} is completed; only queued, started or executed jobs "
        "can be cancelled\n"
    )
    assert (result.returncode, result.stderr) == (1, expected)


async def test_status_shows_live_engine_and_running_job(
    cli: Cli, store: str, admin: BackgroundJobs, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker("--concurrency", "3")
    job_id = enqueue(cli, store, "block")
    await wait_for_state(admin, job_id, {JobState.STARTED})
    text = cli("status", store).stdout
    assert "# ENGINES: 1 alive, 0 stale, 0 dead, 0 stopped" in text
    assert f"  Pid:          {worker.process.pid}\n" in text
    assert "  Concurrency:  3\n" in text
    assert f"  #{job_id:<6} block " in text
    report = json.loads(cli("status", store, "--json").stdout)
    assert report["counts"]["started"] == 1
    assert [e["concurrency"] for e in report["engines"]] == [3]
    assert [j["id"] for j in report["running"]] == [job_id]
