"""Queries through the admin API on a real store: every key, negation, prefixes, time bounds,
search across months, bounded scans, counts."""

from __future__ import annotations

import pytest

from jobs_core import BackgroundJobs, InvalidQueryError, Job, JobState


async def everything(jobs: BackgroundJobs, query: str, limit: int = 3) -> list[Job]:
    """Every job `find_jobs` returns for `query`, page by page."""
    found: list[Job] = []
    cursor: int | None = None
    while True:
        page = await jobs.find_jobs(query, cursor=cursor, limit=limit)
        found += page.items
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", list(range(15, 0, -1))),
        ("state:failed", [11, 2, 1]),
        ("state:queued", [15, 14]),
        ("state:failed,queued", [15, 14, 11, 2, 1]),
        ("-state:completed", [15, 14, 11, 2, 1]),
        ("command:import*", [13, 12, 11, 6, 5, 4, 3, 2, 1]),
        ("command:send_email created_by:alice", [10, 8]),
        ("-tag:october", [15, 14, 13, 12, 11, 10, 9, 8, 7]),
        ("tag:october,mail state:completed", [10, 9, 8, 7, 6, 5, 4, 3]),
        ("batch:b-nov -state:failed", [13, 12]),
        ("user:user1", [15]),
        ("args.customer:3", [4]),
        ("args.customer:1,4", [5, 2]),
        ("acme", [13, 12, 11]),
        ("customer -acme", [6, 5, 4, 3, 2, 1]),
        ("error:RuntimeError", [11, 2, 1]),
        ("since:2026-11-01", [15, 14, 13, 12, 11, 10, 9, 8, 7]),
        ("before:2026-11-01", [6, 5, 4, 3, 2, 1]),
        ("since:1h", [15, 14, 13, 12, 11, 10, 9, 8, 7]),
        ("worker:x", []),
        ("queue:email", [10, 9, 8, 7]),
        ("-queue:default", [10, 9, 8, 7]),
        ("queue:default state:queued", [15, 14]),
        ("queue:em*", [10, 9, 8, 7]),
    ],
)
async def test_find_jobs_answers_every_kind_of_term_across_months(
    history: BackgroundJobs, query: str, expected: list[int]
) -> None:
    assert [job.id for job in await everything(history, query)] == expected
    assert await history.count_jobs(query) == len(expected)


async def test_month_lists_and_the_queue_take_queries(history: BackgroundJobs) -> None:
    failed = await history.list_failed("2026-10", "command:import_orders")
    assert [job.id for job in failed.items] == [2, 1]
    done = await history.list_completed("2026-11", "-tag:mail")
    assert [job.id for job in done.items] == [13, 12]
    queued = await history.list_queue("user:user0")
    assert [job.id for job in queued.items] == [14]


async def test_a_bad_query_is_refused_naming_the_term(history: BackgroundJobs) -> None:
    with pytest.raises(InvalidQueryError, match="'color:red': unknown key 'color'"):
        await history.find_jobs("color:red")


async def test_find_jobs_sees_finished_jobs_not_yet_archived(history: BackgroundJobs) -> None:
    jobs = history
    await jobs.cancel(15)  # cancelled in the live table; no engine archives it
    assert [job.id for job in await everything(jobs, "state:cancelled")] == [15]
    assert (await jobs.find_jobs("state:cancelled")).items[0].state is JobState.CANCELLED
