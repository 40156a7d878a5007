"""`jobs list` (table and JSON-lines export) and the bulk forms of cancel, requeue, delete."""

from __future__ import annotations

import json
from collections.abc import Callable

from jobs_core import BackgroundJobs, JobState
from tests.cli.conftest import Cli, Worker, wait_for_state
from tests.cli.test_errors import assert_one_line_error


def enqueue(cli: Cli, store: str, *args: str) -> int:
    result = cli("enqueue", store, *args, "--app", "tests.cli.sample_app:app")
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


async def failed_jobs(
    cli: Cli, store: str, admin: BackgroundJobs, start_worker: Callable[..., Worker], n: int
) -> list[int]:
    worker = start_worker()
    ids = [enqueue(cli, store, "explode", "--tag", "nightly") for _ in range(n)]
    for job_id in ids:
        await wait_for_state(admin, job_id, {JobState.FAILED})
    worker.terminate()
    return ids


async def test_list_prints_a_table_newest_first(
    cli: Cli, store: str, admin: BackgroundJobs, start_worker: Callable[..., Worker]
) -> None:
    ids = await failed_jobs(cli, store, admin, start_worker, 2)
    enqueue(cli, store, "greet", "--run-after", "1h")
    result = cli("list", store, "state:failed", "tag:nightly")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ID        STATE       COMMAND")
    assert [line.split()[:3] for line in lines[1:]] == [
        [str(i), "failed", "explode"] for i in reversed(ids)
    ]
    assert lines[1].endswith("  boom")
    assert result.stderr == "2 jobs\n"


async def test_list_json_exports_every_field_as_json_lines(
    cli: Cli, store: str, admin: BackgroundJobs, start_worker: Callable[..., Worker]
) -> None:
    ids = await failed_jobs(cli, store, admin, start_worker, 3)
    result = cli("list", store, "command:explode", "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["id"] for row in rows] == list(reversed(ids))
    assert rows[0]["state"] == "failed" and rows[0]["error"]["message"] == "boom"
    assert rows[0]["request_body"] is None and rows[0]["tag"] == "nightly"
    limited = cli("list", store, "--json", "--limit", "1").stdout.splitlines()
    assert len(limited) == 1


def test_list_refuses_a_bad_query(cli: Cli, store: str) -> None:
    message = "'colour:red': unknown key 'colour'; known keys: state, command, tag, batch"
    result = cli("list", store, "colour:red")
    assert result.returncode == 2 and result.stderr.startswith(f"jobs: error: {message}")


async def test_requeue_by_query_needs_yes_without_a_terminal(
    cli: Cli, store: str, admin: BackgroundJobs, start_worker: Callable[..., Worker]
) -> None:
    ids = await failed_jobs(cli, store, admin, start_worker, 3)
    asked = cli("requeue", store, "--query", "state:failed command:explode")
    assert_one_line_error(
        asked, 2,
        "Requeue 3 jobs matching 'state:failed command:explode'? Add --yes to confirm "
        "without a terminal",
    )  # fmt: skip
    assert (await admin.get_job(ids[0])).state is JobState.FAILED
    done = cli("requeue", store, "--query", "state:failed command:explode", "--yes")
    assert done.stdout == "requeued 3 of 3 matching jobs\n"
    start_worker()  # the requeued jobs run (and fail) again on a live engine
    for job_id in ids:
        again = await wait_for_state(admin, job_id, {JobState.FAILED})
        assert again.summary.attempts == 1


async def test_cancel_and_delete_by_query(
    cli: Cli, store: str, admin: BackgroundJobs, start_worker: Callable[..., Worker]
) -> None:
    ids = await failed_jobs(cli, store, admin, start_worker, 2)
    later = [enqueue(cli, store, "greet", "--run-after", "1h") for _ in range(2)]
    cancelled = cli("cancel", store, "-q", "state:queued", "-y")
    assert cancelled.stdout == "cancelled 2 of 2 matching jobs\n"
    assert (await admin.get_job(later[0])).state is JobState.CANCELLED
    deleted = cli("delete", store, "-q", "tag:nightly", "-y")
    assert deleted.stdout == "deleted 2 of 2 matching jobs\n"
    assert await admin.count_jobs("") == 2
    assert cli("delete", store, str(later[1])).stdout == f"deleted job {later[1]}\n"
    assert cli("list", store, "--json").stdout.count("\n") == 1
    nothing = cli("requeue", store, "-q", "tag:nightly")
    assert nothing.stdout == "no job matches 'tag:nightly'\n"
    assert ids


def test_action_needs_an_id_or_a_query(cli: Cli, store: str) -> None:
    assert_one_line_error(cli("cancel", store), 2, "cancel: give a job ID or --query")
    both = cli("requeue", store, "3", "--query", "state:failed")
    assert_one_line_error(both, 2, "requeue: give a job ID or --query, not both")


def test_an_action_on_one_id_takes_the_store_from_jobs_store(cli: Cli, store: str) -> None:
    """`jobs cancel ID` with $JOBS_STORE set (as the README says): the lone word is the id,
    not a store directory of that name."""
    job_id = enqueue(cli, store, "greet", "--run-after", "1h")
    env = {"JOBS_STORE": store}
    cancelled = cli("cancel", str(job_id), env=env)
    assert (cancelled.returncode, cancelled.stdout) == (0, f"job {job_id} cancelled\n")
    requeued = cli("requeue", str(job_id), env=env)
    assert (requeued.returncode, requeued.stdout) == (0, f"requeued {job_id}\n")
    cli("cancel", str(job_id), env=env)
    deleted = cli("delete", str(job_id), env=env)
    assert (deleted.returncode, deleted.stdout) == (0, f"deleted job {job_id}\n")
