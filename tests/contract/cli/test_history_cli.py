"""`jobs purge` and `jobs search` on an existing store."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from jobs_core import BackgroundJobs, JobContext, ManualClock
from tests.cli.conftest import Cli
from tests.conftest import FAST


async def old_jobs(store: str) -> list[int]:
    """Three jobs that finished in June 2025 (the second failed with a timeout)."""
    clock = ManualClock(datetime(2025, 6, 10, tzinfo=UTC))
    jobs = BackgroundJobs(store, settings=FAST, clock=clock)

    @jobs.command
    async def sync(req: dict[str, bool], ctx: JobContext) -> str:
        if req["fail"]:
            raise TimeoutError("upstream timeout after 30s")
        return "synced"

    async with jobs:
        ids = [
            (await jobs.enqueue("sync", {"fail": f}, retry_limit=0)).id
            for f in (False, True, False)
        ]
        await jobs.run_until_idle()
    return ids


async def test_search_prints_matching_jobs_and_says_when_none_match(cli: Cli, store: str) -> None:
    ids = await old_jobs(store)
    found = cli("search", store, "upstream timeout")
    assert found.returncode == 0, found.stderr
    (line,) = found.stdout.splitlines()  # one failed with that error
    assert line.split()[:2] == [str(ids[1]), "failed"] and "upstream timeout after 30s" in line
    none = cli("search", store, "zanzibar")
    assert none.stdout.strip() == "no finished job holds every word of 'zanzibar'"
    bad = cli("search", store, "x", "--limit", "0")
    assert (bad.returncode, bad.stderr.strip()) == (
        2,
        "jobs: error: --limit must be 1 or more, got 0",
    )


async def test_purge_dry_run_reports_then_purge_removes_old_jobs(cli: Cli, store: str) -> None:
    ids = await old_jobs(store)
    dry = cli("purge", store, "--older-than", "90d", "--state", "failed", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would remove 1 jobs that finished before ")
    assert dry.stdout.strip().endswith(": failed 1")
    # The third job is the store's newest: it stays, so its month is emptied row by row.
    done = cli("purge", store, "--older-than", "90d")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(": completed 1, failed 1")
    assert done.stdout.startswith("removed 2 jobs")
    again = cli("search", store, "sync", "--json")
    assert [json.loads(line)["id"] for line in again.stdout.splitlines()] == [ids[2]]
    bad = cli("purge", store, "--older-than", "soon")
    assert bad.returncode == 2
    assert bad.stderr.startswith("jobs: error: --older-than 'soon': expected a delay")
