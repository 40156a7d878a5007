"""Search across months: full text over command, tag, error, status, request, result and
logs of archived jobs, newest first, keyset-paged, with a date range."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs_core import BackgroundJobs, InvalidOptionError, JobContext, ManualClock
from tests.conftest import MakeJobs


def app(make_jobs: MakeJobs, clock: ManualClock) -> BackgroundJobs:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def fetch(req: dict[str, str], ctx: JobContext) -> dict[str, str]:
        ctx.log.info("fetching %s", req["url"])
        ctx.status(f"talking to {req['host']}")
        if req.get("fail"):
            raise TimeoutError(f"gateway timeout from {req['host']}")
        return {"answer": req.get("answer", "nothing")}

    return jobs


async def history(make_jobs: MakeJobs, clock: ManualClock) -> dict[str, int]:
    """Jobs archived in September and November, named by what makes them findable."""
    jobs = app(make_jobs, clock)
    ids: dict[str, int] = {}
    sep, nov = (2026, 9), (2026, 11)
    runs = [
        (sep, 10, "sep_timeout", {"url": "u1", "host": "alpha", "fail": "1"}),
        (sep, 20, "sep_ok", {"url": "u2", "host": "beta"}),
        (nov, 1, "nov_timeout", {"url": "u3", "host": "gamma", "fail": "1"}),
        (nov, 2, "nov_rare", {"url": "u4", "host": "delta", "answer": "zanzibar"}),
        (nov, 3, "nov_tagged", {"url": "u5", "host": "epsilon"}),
    ]
    async with jobs:
        for (year, month), day, name, request in runs:
            clock.set(round(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000))
            tag = "invoices" if name == "nov_tagged" else None
            ids[name] = (await jobs.enqueue("fetch", request, retry_limit=0, tag=tag)).id
            await jobs.run_until_idle()
    return ids


async def test_search_finds_words_in_every_field_across_months_newest_first(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    ids = await history(make_jobs, clock)
    jobs = app(make_jobs, clock)

    async def found(text: str, **options: object) -> list[int]:
        page = await jobs.search(text, **options)  # type: ignore[arg-type]
        return [j.id for j in page.items]

    assert await found("timeout") == [ids["nov_timeout"], ids["sep_timeout"]]  # error
    assert await found("gateway timeout gamma") == [ids["nov_timeout"]]  # every word
    assert await found("zanzibar") == [ids["nov_rare"]]  # result
    assert await found("invoices") == [ids["nov_tagged"]]  # tag
    assert await found("talking beta") == [ids["sep_ok"]]  # status
    assert await found("fetching u4") == [ids["nov_rare"]]  # logs
    assert await found('"u2"') == [ids["sep_ok"]]  # request; quotes are plain text
    assert await found("fetch") == sorted(ids.values(), reverse=True)  # command
    assert await found("nowhere-to-be-found") == []
    assert await found("   ") == []
    page = await jobs.search("timeout")
    assert page.items[0].error is not None and page.items[0].command == "fetch"


async def test_search_pages_with_a_cursor_and_keeps_to_a_date_range(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    ids = await history(make_jobs, clock)
    jobs = app(make_jobs, clock)
    first = await jobs.search("fetch", limit=2)
    assert [j.id for j in first.items] == [ids["nov_tagged"], ids["nov_rare"]]
    second = await jobs.search("fetch", limit=2, cursor=first.next_cursor)
    assert [j.id for j in second.items] == [ids["nov_timeout"], ids["sep_ok"]]
    last = await jobs.search("fetch", limit=2, cursor=second.next_cursor)
    assert ([j.id for j in last.items], last.next_cursor) == ([ids["sep_timeout"]], None)
    november = await jobs.search(
        "fetch", since=datetime(2026, 11, 2, tzinfo=UTC), until=datetime(2026, 11, 3, tzinfo=UTC)
    )
    assert [j.id for j in november.items] == [ids["nov_rare"]]
    september = await jobs.search("timeout", until=datetime(2026, 10, 1, tzinfo=UTC))
    assert [j.id for j in september.items] == [ids["sep_timeout"]]
    with pytest.raises(InvalidOptionError, match="since must be an aware datetime"):
        await jobs.search("x", since=datetime(2026, 1, 1))


async def test_purged_jobs_leave_the_search(make_jobs: MakeJobs, clock: ManualClock) -> None:
    ids = await history(make_jobs, clock)
    jobs = app(make_jobs, clock)
    await jobs.purge(datetime(2026, 11, 2, tzinfo=UTC), state="failed")
    assert [j.id for j in (await jobs.search("timeout")).items] == []
    assert [j.id for j in (await jobs.search("zanzibar")).items] == [ids["nov_rare"]]
