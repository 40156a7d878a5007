"""`jobs queue list|set|pause|resume`, `jobs why` and the flow options of `jobs enqueue`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from jobs_core import BackgroundJobs, RateLimit
from tests.cli.conftest import SAMPLE_APP, Cli


async def digest(req: dict[str, str]) -> None:
    return None


async def test_queue_set_pause_resume_list_and_status(
    cli: Cli, store: str, admin: BackgroundJobs
) -> None:
    done = cli("queue", "set", store, "email", "--concurrency", "3", "--rate-limit", "100/1m")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "queue email: active, concurrency 3, rate limit 100/1m\n"
    [settings] = await admin.queue_settings()
    assert (settings.concurrency, settings.rate_limit) == (
        3,
        RateLimit(100, per=timedelta(minutes=1)),
    )
    paused = cli("queue", "pause", store, "email")
    assert paused.stdout == "queue email: paused, concurrency 3, rate limit 100/1m\n"
    assert (await admin.queue_settings())[0].paused
    cli("enqueue", store, "greet", "--app", SAMPLE_APP, "--queue", "email")
    listing = cli("queue", "list", store).stdout
    assert listing.startswith("# QUEUES: 1 (1 paused)\n")
    assert "  email            3                  0       1  100/1m      0/1m" in listing
    assert listing.rstrip().endswith("paused")
    assert "# QUEUES: 1 (1 paused)" in cli("status", store).stdout
    [row] = json.loads(cli("queue", "list", store, "--json").stdout)
    assert (row["name"], row["queued"], row["paused"]) == ("email", 1, True)
    assert row["rate_limit"] == {"limit": 100, "per_ms": 60_000}
    resumed = cli("queue", "resume", store, "email")
    assert resumed.stdout == "queue email: active, concurrency 3, rate limit 100/1m\n"
    cleared = cli("queue", "set", store, "email", "--concurrency", "none", "--rate-limit", "none")
    assert cleared.stdout == "queue email: active, concurrency no limit, rate limit no limit\n"


async def test_queue_commands_take_the_store_from_the_environment(cli: Cli, store: str) -> None:
    done = cli("queue", "pause", "reports", env={"JOBS_STORE": store})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "queue reports: paused, concurrency no limit, rate limit no limit\n"


async def test_setting_a_queue_nothing_used_yet_sets_it_with_a_note_naming_the_known_ones(
    cli: Cli, store: str
) -> None:
    cli("queue", "set", store, "email", "--concurrency", "3")
    typo = cli("queue", "pause", store, "emial")
    assert typo.returncode == 0 and typo.stdout.startswith("queue emial: paused")
    assert typo.stderr == (
        "note: no command declares queue emial, and it had no jobs, settings or finishes in"
        " the last 15 minutes; queues that do: email\n"
    )
    again = cli("queue", "resume", store, "emial")  # it has settings now: no note
    assert again.returncode == 0 and again.stderr == ""


async def test_a_queue_a_command_declares_is_set_without_a_note(cli: Cli, store: str) -> None:
    engine = BackgroundJobs(store)
    engine.command("digest", queue="reports")(digest)
    engine.command("mailer", worker="smtp")(digest)
    async with engine:  # its engine declares the commands in the store
        pass
    for queue in ("reports", "smtp"):
        quiet = cli("queue", "pause", store, queue)
        assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--concurrency", "0"], "argument --concurrency: must be at least 1, got 0"),
        (["--concurrency", "many"], "argument --concurrency: expected a number or 'none'"),
        (["--rate-limit", "100"], "argument --rate-limit: expected N/WINDOW such as 100/1m"),
        (["--rate-limit", "0/1s"], "argument --rate-limit: expected N/WINDOW"),
        ([], "nothing to set: give --concurrency or --rate-limit"),
    ],
)
def test_queue_set_refuses_bad_values_in_one_line(
    cli: Cli, store: str, args: list[str], message: str
) -> None:
    result = cli("queue", "set", store, "email", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("jobs: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


async def test_queue_with_no_action_lists_the_queues(cli: Cli, store: str) -> None:
    cli("queue", "pause", store, "mail")
    listed = cli("queue", "list", store).stdout
    assert listed.startswith("# QUEUES: 1 (1 paused)\n")
    assert cli("queue", store).stdout == listed
    assert cli("queue", env={"JOBS_STORE": store}).stdout == listed
    [row] = json.loads(cli("queue", store, "--json").stdout)
    assert (row["name"], row["paused"]) == ("mail", True)
    assert "With no ACTION (or only a STORE), list the queues." in cli("queue", "--help").stdout
    misspelt = cli("queue", "paus", store, "mail")  # not taken for a store: the actions named
    assert misspelt.returncode == 2
    assert "invalid choice: 'paus' (choose from 'list', 'set', 'pause', 'resume')" in (
        misspelt.stderr
    )


def test_queue_action_without_a_name_is_refused(cli: Cli, store: str) -> None:
    result = cli("queue", "pause", store)
    assert result.returncode == 2
    assert result.stderr == "jobs: error: give the queue's name: jobs queue ACTION [STORE] QUEUE\n"


async def test_enqueue_flow_options_and_why(cli: Cli, store: str, admin: BackgroundJobs) -> None:
    cli("queue", "pause", store, "mail")
    first = cli(
        "enqueue", store, "greet", '{"name": "ada"}', "--app", SAMPLE_APP, "--queue", "mail",
        "--priority", "5", "--expires-in", "10m", "--concurrency-key", "user:1",
        "--concurrency-limit", "2", "--unique-key", "greet-ada", "--ref-id", "g1",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    job = (await admin.get_job(int(first.stdout))).job
    assert job is not None
    assert (job.queue, job.priority, job.concurrency_key, job.concurrency_limit) == (
        "mail", 5, "user:1", 2,
    )  # fmt: skip
    assert job.unique_key == "greet-ada" and job.expires_at == job.run_after + 600_000
    again = cli(
        "enqueue", store, "greet", "--app", SAMPLE_APP, "--ref-id", "g1",
        "--on-conflict", "return_existing",
    )  # fmt: skip
    assert again.stdout == first.stdout
    why = cli("why", store, first.stdout.strip())
    assert why.returncode == 0, why.stderr
    assert why.stdout.startswith(f"job {job.id} is queued: queue 'mail' is paused; expires at ")


def test_enqueue_refuses_a_bad_expiry_in_one_line(cli: Cli, store: str) -> None:
    result = cli("enqueue", store, "greet", "--app", SAMPLE_APP, "--expires-in", "soon")
    assert result.returncode == 2
    assert result.stderr.startswith("jobs: error: --expires-in 'soon': expected a delay")
