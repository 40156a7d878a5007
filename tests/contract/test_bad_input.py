"""Bad input is refused by the call that gives it, with a `JobsError` naming it, before any
store sees it: numbers past what the stores hold, text UTF-8 cannot encode, a request that
contains itself. Refused there, it never fails the enqueues that share its transaction (a
group commit), and text a handler produces is stored whatever it holds, so one job's output
never wedges the engine's writes."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest

from jobs_core import (
    BackgroundJobs,
    InvalidOptionError,
    JobContext,
    JobNotFoundError,
    JobRef,
    JobState,
    RateLimit,
    UnserialisableRequestError,
)
from tests.conftest import MakeJobs

TOO_BIG_COUNT = 2**31
"""One past the largest count a PostgreSQL `integer` holds."""
TOO_BIG_ID = 2**63
"""One past the largest 64-bit id."""


def circular() -> dict[str, Any]:
    request: dict[str, Any] = {}
    request["self"] = request
    return request


@pytest.mark.parametrize(
    ("request_body", "options", "error", "message"),
    [({}, {"retry_limit": TOO_BIG_COUNT}, InvalidOptionError,
      f"retry_limit must be at most 2147483647, got {TOO_BIG_COUNT}"),
     ({}, {"concurrency_key": "k", "concurrency_limit": TOO_BIG_COUNT}, InvalidOptionError,
      f"concurrency_limit must be at most 2147483647, got {TOO_BIG_COUNT}"),
     ({}, {"parent_id": TOO_BIG_ID}, InvalidOptionError,
      f"parent_id must be a job id \\(at most 9223372036854775807\\), got {TOO_BIG_ID}"),
     ({}, {"depends_on": [1, TOO_BIG_ID]}, InvalidOptionError,
      "depends_on must be a job id \\(at most 9223372036854775807\\)"),
     ({}, {"tag": "bad \udcff"}, InvalidOptionError,
      r"tag 'bad \\udcff' holds a lone surrogate, which UTF-8 cannot encode"),
     ({}, {"args": {"k": "\udcff"}}, InvalidOptionError, "args: 'k': '\\\\udcff' holds a lone"),
     ({"name": "bad \udcff"}, {}, UnserialisableRequestError,
      r"cannot be stored as JSON: it holds '\\udcff', a lone surrogate"),
     (circular(), {}, UnserialisableRequestError, "cannot be stored as JSON: it contains itself")],
)  # fmt: skip
async def test_enqueue_bad_input_is_refused_without_failing_the_enqueues_beside_it(
    make_jobs: MakeJobs, request_body: Any, options: dict[str, Any], error: type[Exception],
    message: str,
) -> None:  # fmt: skip
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def greet(req: dict[str, Any], ctx: JobContext) -> None: ...

    good = [jobs.enqueue("greet", {"n": n}) for n in range(6)]
    bad = jobs.enqueue("greet", request_body, **options)
    # Submitted together, they would share one transaction if the bad one reached the store.
    results = await asyncio.gather(*good[:3], bad, *good[3:], return_exceptions=True)
    refused = results.pop(3)
    assert isinstance(refused, error), refused
    assert re.search(message, str(refused)), str(refused)
    assert all(isinstance(r, JobRef) for r in results), results
    assert (await jobs.count_jobs("")) == 6


async def test_enqueue_each_refuses_a_request_utf8_cannot_encode(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def greet(req: dict[str, Any], ctx: JobContext) -> None: ...

    with pytest.raises(UnserialisableRequestError, match=r"it holds '\\udcff'"):
        await jobs.enqueue_each("greet", [{"n": "ok"}, {"n": "\udcff"}])
    assert (await jobs.count_jobs("")) == 0
    refs = await jobs.enqueue_each("greet", [{"n": "é"}, {"n": "ü"}])  # non-ASCII is fine
    assert [(await jobs.get_job(r.id)).job.request_body for r in refs] == ['{"n":"é"}', '{"n":"ü"}']


@pytest.mark.parametrize(
    ("call", "message"),
    [(lambda j: j.set_queue("q", concurrency=TOO_BIG_COUNT),
      f"concurrency must be at most 2147483647, got {TOO_BIG_COUNT}"),
     (lambda j: j.set_queue("q", rate_limit=RateLimit(TOO_BIG_COUNT, per=timedelta(seconds=1))),
      f"RateLimit: limit must be at most 2147483647, got {TOO_BIG_COUNT}"),
     (lambda j: j.create_batch("b", total=TOO_BIG_COUNT),
      f"total must be at most 2147483647, got {TOO_BIG_COUNT}"),
     (lambda j: j.recurring("t", "@daily", "greet", max_runs=TOO_BIG_COUNT),
      f"max_runs must be at most 2147483647, got {TOO_BIG_COUNT}"),
     (lambda j: j.recurring("t", "@daily", "greet", max_catch_up=TOO_BIG_COUNT),
      f"max_catch_up must be at most 2147483647, got {TOO_BIG_COUNT}"),
     (lambda j: j.recurring("t", "@daily", "greet", retry_limit=TOO_BIG_COUNT),
      f"retry_limit must be at most 2147483647, got {TOO_BIG_COUNT}"),
     (lambda j: j.find_jobs("", limit=0), "limit must be an int >= 1, got 0"),
     (lambda j: j.find_jobs("", limit=TOO_BIG_COUNT),
      f"limit must be at most 2147483647, got {TOO_BIG_COUNT}"),
     (lambda j: j.list_queue(limit=TOO_BIG_COUNT),
      f"limit must be at most 2147483647, got {TOO_BIG_COUNT}"),
     (lambda j: j.search("x", limit=TOO_BIG_COUNT),
      f"limit must be at most 2147483647, got {TOO_BIG_COUNT}")],
)  # fmt: skip
async def test_numbers_past_what_the_stores_hold_are_refused_by_name(
    make_jobs: MakeJobs, call: Any, message: str
) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def greet(req: dict[str, Any], ctx: JobContext) -> None: ...

    with pytest.raises(InvalidOptionError) as refused:
        await call(jobs)
    assert str(refused.value) == message
    assert await jobs.queue_settings() == [] and await jobs.scheduled_tasks() == []


@pytest.mark.parametrize(
    "call",
    [lambda j, i: j.get_job(i), lambda j, i: j.cancel(i), lambda j, i: j.requeue(i),
     lambda j, i: j.delete(i), lambda j, i: j.why_waiting(i), lambda j, i: j.attempts(i),
     lambda j, i: j.dependents(i), lambda j, i: j.children(i),
     lambda j, i: j.wait(i, timeout=5)],
)  # fmt: skip
@pytest.mark.parametrize("job_id", [TOO_BIG_ID, -TOO_BIG_ID - 1])
async def test_an_id_past_64_bits_names_no_job(make_jobs: MakeJobs, call: Any, job_id: int) -> None:
    jobs = make_jobs(start_engine=False)
    with pytest.raises(JobNotFoundError, match=f"^there is no job {job_id}$"):
        await call(jobs, job_id)


async def test_bulk_actions_skip_ids_past_64_bits(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def greet(req: dict[str, Any], ctx: JobContext) -> None: ...

    ref = await jobs.enqueue("greet", {})
    result = await jobs.bulk_cancel([TOO_BIG_ID, ref.id])
    assert (result.matched, result.done, result.skipped) == (2, 1, 1)
    assert (await jobs.get_job(ref.id)).state is JobState.CANCELLED


async def test_handler_text_utf8_cannot_encode_is_stored_escaped_and_the_engine_goes_on(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs()

    @jobs.command(retry_limit=0)
    async def shout(req: dict[str, Any], ctx: JobContext) -> None:
        ctx.log.info("log \udcff")
        ctx.progress(0.5, "status \udcff")
        if req["fail"]:
            raise RuntimeError("error \udcff")

    @jobs.command(retry_limit=0)
    async def answer(req: dict[str, Any], ctx: JobContext) -> str:
        return "result \udcff"

    @jobs.command
    async def fine(req: dict[str, Any], ctx: JobContext) -> None: ...

    async with jobs:
        ids = [(await jobs.enqueue("fine", {})).id]
        ids += [(await jobs.enqueue("shout", {"fail": fail})).id for fail in (False, True)]
        ids += [(await jobs.enqueue("answer", {})).id, (await jobs.enqueue("fine", {})).id]
        await jobs.run_until_idle(timeout=30)
        first, logged, failed, answered, last = [await jobs.get_job(i) for i in ids]
    assert (first.state, last.state, logged.state) == (JobState.COMPLETED,) * 3
    assert logged.job.logs.endswith("log \\udcff\n") and logged.job.status == "status \\udcff"
    assert (failed.state, failed.summary.error_message) == (JobState.FAILED, "error \\udcff")
    assert (answered.state, answered.summary.error_code) == (
        JobState.FAILED, "UnserialisableResultError"
    )  # fmt: skip
    assert "it holds '\\udcff', a lone surrogate" in (answered.summary.error_message or "")


def test_a_url_of_another_scheme_is_not_taken_for_a_directory() -> None:
    with pytest.raises(InvalidOptionError, match="not a mysql:// URL"):
        BackgroundJobs("mysql://user:secret@db/jobs")


@pytest.mark.parametrize("requests", ["abc", b"ab", {"n": 1}])
async def test_enqueue_each_refuses_one_request_given_as_the_list(
    make_jobs: MakeJobs, requests: Any
) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def greet(req: Any, ctx: JobContext) -> None: ...

    kind = type(requests).__name__
    with pytest.raises(InvalidOptionError, match=f"one a job; got a {kind} \\(wrap one"):
        await jobs.enqueue_each("greet", requests)
    assert (await jobs.count_jobs("")) == 0
