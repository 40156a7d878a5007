"""Enqueue options: every wrong type or empty value refused by name, time zones never guessed,
a command's declared worker kept, and the defaults a job derives from its options."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from jobs_core import (
    DuplicateRefIdError,
    EnqueueRequest,
    InvalidOptionError,
    JobContext,
    JobState,
    ManualClock,
    to_ms,
)
from tests.conftest import MakeJobs


async def noop(req: object, ctx: JobContext) -> None:
    return None


WRONG_TYPES: list[tuple[str, Any, str]] = [
    ("run_after", "tomorrow", r"run_after must be a datetime \(with a time zone\) or a "
                              r"timedelta, got str 'tomorrow'"),
    ("run_after", 30, r"run_after must be a datetime \(with a time zone\) or a timedelta, got "
                      "int 30"),
    ("run_after", date(2030, 1, 1), "run_after must be a datetime .* got date"),
    ("retry_limit", "3", "retry_limit must be an int, got str '3'"),
    ("retry_limit", 2.5, "retry_limit must be an int, got float 2.5"),
    ("retry_limit", True, "retry_limit must be an int, got bool True"),
    ("timeout", "30", "timeout must be a number of seconds, got str '30'"),
    ("timeout", float("inf"), "timeout must be > 0 seconds, got inf"),
    ("depends_on", "7", r"depends_on must be a job id or a non-empty list of job ids, got str '7'"),
    ("depends_on", 0, r"depends_on must be a job id \(1 or more\), got 0"),
    ("depends_on", [], r"a non-empty list of job ids, got list \[\]"),
    ("depends_on", [1, "2"], r"depends_on must be a job id \(an int\), got str '2'"),
    ("depends_on", [1, 1], r"depends_on lists a job twice: \[1, 1\]"),
    ("depends_on_batch", "", r"depends_on_batch must not be empty"),
    ("depends_policy", "sometimes", r"must be one of completed, finished, got 'sometimes'"),
    ("parent_id", 1.0, r"parent_id must be a job id \(an int\), got float 1.0"),
    ("args", ["a", "b"], "args must map strings to strings, got list"),
    ("args", {"n": 1}, "args must map strings to strings; 'n': 1 is not a string pair"),
    ("meta", {"k": None}, "meta must map strings to strings; 'k': None is not a string pair"),
    ("tag", 5, "tag must be a string, got int 5"),
    ("ref_id", 42, "ref_id must be a string, got int 42"),
    ("worker", ["smtp"], "worker must be a string, got list"),
    ("batch_id", 1, "batch_id must be a string, got int 1"),
    ("created_by", b"ann", "created_by must be a string, got bytes"),
    ("user_id", 7, "user_id must be a string, got int 7"),
    ("reply_to", 80, "reply_to must be a string, got int 80"),
    ("callback", noop, "callback must be a string, got function"),
]  # fmt: skip

EMPTY_TEXT = ["ref_id", "tag", "worker", "batch_id", "created_by", "user_id", "callback",
              "reply_to"]  # fmt: skip


@pytest.mark.parametrize(("option", "value", "message"), WRONG_TYPES)
async def test_enqueue_wrong_typed_option_is_refused_by_name(
    make_jobs: MakeJobs, option: str, value: Any, message: str
) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    with pytest.raises(InvalidOptionError, match=message):
        await jobs.enqueue_many([EnqueueRequest(command="noop", **{option: value})])
    if option != "meta":  # meta is engine-maintained: not an `enqueue` keyword
        with pytest.raises(InvalidOptionError, match=message):
            await jobs.enqueue("noop", **{option: value})
    assert (await jobs.counts())[JobState.QUEUED] == 0


@pytest.mark.parametrize("option", EMPTY_TEXT)
@pytest.mark.parametrize("empty", ["", "  "])
async def test_enqueue_empty_text_option_is_refused(
    make_jobs: MakeJobs, option: str, empty: str
) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    with pytest.raises(InvalidOptionError, match=f"{option} must not be empty"):
        await jobs.enqueue("noop", **{option: empty})
    assert (await jobs.counts())[JobState.QUEUED] == 0


async def test_recurring_checks_its_options_like_enqueue(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    with pytest.raises(InvalidOptionError, match="retry_limit must be an int, got str"):
        await jobs.recurring("t", "every 5m", "noop", retry_limit="2")  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="tag must not be empty"):
        await jobs.recurring("t", "every 5m", "noop", tag="")
    with pytest.raises(InvalidOptionError, match="schedule must be a Schedule or text"):
        await jobs.recurring("t", 300, "noop")  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="a scheduled task needs a non-empty name"):
        await jobs.recurring(None, "every 5m", "noop")  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="max_catch_up must be an int >= 1, got '3'"):
        await jobs.recurring("t", "every 5m", "noop", max_catch_up="3")  # type: ignore[arg-type]
    assert await jobs.scheduled_tasks() == []


async def test_naive_run_after_is_refused_with_how_to_fix(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    naive = datetime(2030, 1, 2, 3, 4, 5)
    with pytest.raises(
        InvalidOptionError,
        match=r"run_after 2030-01-02T03:04:05 is a naive datetime \(no time zone\).*pass an "
        r"aware datetime such as datetime.now\(UTC\) \+ timedelta\(minutes=5\)",
    ):
        await jobs.enqueue("noop", run_after=naive)
    assert (await jobs.counts())[JobState.QUEUED] == 0


async def test_aware_run_after_in_any_zone_is_the_same_instant(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock)
    jobs.command(noop)
    tokyo = timezone(timedelta(hours=9))
    instant = datetime(2030, 1, 2, 12, 0, tzinfo=tokyo)
    ref = await jobs.enqueue("noop", run_after=instant)
    job = (await jobs.get_job(ref.id)).job
    assert job is not None
    assert job.run_after == to_ms(datetime(2030, 1, 2, 3, 0, tzinfo=UTC))


def test_to_ms_refuses_naive_datetime() -> None:
    with pytest.raises(InvalidOptionError, match="is a naive datetime"):
        to_ms(datetime(2030, 1, 1))
    with pytest.raises(InvalidOptionError, match="is a naive datetime"):
        ManualClock(datetime(2030, 1, 1))
    assert to_ms(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1000


async def test_declared_worker_cannot_be_overridden(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command("mail", worker="smtp")(noop)
    jobs.command(noop)
    with pytest.raises(
        InvalidOptionError,
        match=r"worker 'other': command 'mail' runs on its declared worker 'smtp', one job at "
        r"a time; another worker would break that guarantee",
    ):
        await jobs.enqueue("mail", worker="other")
    same = await jobs.enqueue("mail", worker="smtp")
    free = await jobs.enqueue("noop", worker="reports")  # no declared worker: allowed
    assert [(await jobs.get_job(r.id)).summary.worker for r in (same, free)] == [
        "smtp",
        "reports",
    ]


async def test_command_registration_checks_its_options(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    with pytest.raises(InvalidOptionError, match="worker must be a non-empty string, got ''"):
        jobs.command("mail", worker="")
    with pytest.raises(InvalidOptionError, match="timeout must be a number of seconds"):
        jobs.command("mail", timeout="30")
    with pytest.raises(InvalidOptionError, match="retry_limit must be an int"):
        jobs.command("mail", retry_limit=1.5)


async def test_duplicate_ref_id_error_carries_the_existing_job(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    first = await jobs.enqueue("noop", ref_id="order-42")
    with pytest.raises(DuplicateRefIdError) as taken:
        await jobs.enqueue("noop", ref_id="order-42")
    assert (taken.value.ref_id, taken.value.existing_id) == ("order-42", first.id)
    with pytest.raises(DuplicateRefIdError) as twice:
        await jobs.enqueue_many([EnqueueRequest(command="noop", ref_id="x")] * 2)
    assert (twice.value.ref_id, twice.value.existing_id) == ("x", None)


async def test_dependent_job_parent_defaults_to_what_it_depends_on(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    parent = await jobs.enqueue("noop")
    other = await jobs.enqueue("noop")
    child = await jobs.enqueue("noop", depends_on=parent.id)
    explicit = await jobs.enqueue("noop", depends_on=parent.id, parent_id=other.id)
    summaries = [(await jobs.get_job(r.id)).summary for r in (child, explicit)]
    assert [(s.depends_on, s.parent_id) for s in summaries] == [
        (parent.id, parent.id),
        (parent.id, other.id),
    ]


def _strings(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


async def test_valid_options_still_pass(make_jobs: MakeJobs, clock: ManualClock) -> None:
    """The checks refuse only what is wrong: subclasses of str and int, mappings, delays."""
    jobs = make_jobs(clock=clock)
    jobs.command(noop)

    class Tag(str):
        pass

    ref = await jobs.enqueue(
        "noop", tag=Tag("t"), timeout=1, retry_limit=0, run_after=timedelta(seconds=-5),
        args=_strings({"a": "b"}),
    )  # fmt: skip
    job = (await jobs.get_job(ref.id)).job
    assert job is not None
    assert (job.tag, job.timeout_secs, job.retry_limit) == ("t", 1, 0)
    assert job.run_after == clock.now_ms() - 5000
