"""Flow-control rules as tables: why a queued job waits, keys computed at enqueue, records."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs_core import InvalidOptionError, Job, JobState, QueueSettings, RateLimit, WaitReason
from jobs_core.flow import (
    QueueLoad,
    WaitFacts,
    canonical_json,
    explain,
    key_from_template,
    unique_key_for,
)

NOW = 1_800_000_000_000


def job(**fields: object) -> Job:
    values: dict[str, object] = {"id": 7, "command": "send", "run_after": NOW - 1, "queue": "q"}
    values.update(fields)
    return Job(**values)  # type: ignore[arg-type]


def queue(**fields: object) -> QueueSettings:
    return QueueSettings(name="q", **fields)  # type: ignore[arg-type]


R = WaitReason
CASES: list[tuple[str, WaitFacts, list[WaitReason], str]] = [
    ("nothing holds it", WaitFacts(job=job(), queue=QueueLoad(settings=queue())), [R.READY],
     "ready: an engine running its command starts it next"),
    ("paused queue", WaitFacts(job=job(), queue=QueueLoad(settings=queue(paused=True))),
     [R.PAUSED], "queue 'q' is paused"),
    ("full queue", WaitFacts(job=job(), queue=QueueLoad(settings=queue(concurrency=2), running=2)),
     [R.QUEUE_FULL], "queue 'q' is full (2 running, concurrency 2)"),
    ("room in the queue",
     WaitFacts(job=job(), queue=QueueLoad(settings=queue(concurrency=3), running=2)),
     [R.READY], "ready: an engine running its command starts it next"),
    ("rate limited",
     WaitFacts(job=job(), queue=QueueLoad(
         settings=queue(rate_limit=RateLimit(10, per=timedelta(seconds=1))), window_starts=10,
         window_frees_at=NOW + 400)),
     [R.RATE_LIMITED], "queue 'q' is rate limited (10 started, limit 10/1s); next start in 400 ms"),
    ("key at its limit",
     WaitFacts(job=job(concurrency_key="user:42"), queue=QueueLoad(settings=queue()),
               key_running=1),
     [R.CONCURRENCY_KEY], "waiting on key 'user:42' (1 running, limit 1)"),
    ("key under its limit",
     WaitFacts(job=job(concurrency_key="user:42", concurrency_limit=2),
               queue=QueueLoad(settings=queue()), key_running=1),
     [R.READY], "ready: an engine running its command starts it next"),
    ("dependency", WaitFacts(job=job(), queue=QueueLoad(settings=queue()), waiting_on=3),
     [R.DEPENDENCY], "blocked by job 3 (it has not completed)"),
    ("retry backoff",
     WaitFacts(job=job(run_after=NOW + 12_000, attempts=1), queue=QueueLoad(settings=queue())),
     [R.RETRY], "retry 2 in 12.0 s"),
    ("scheduled", WaitFacts(job=job(run_after=NOW + 600_000), queue=QueueLoad(settings=queue())),
     [R.SCHEDULED], "scheduled to run in 10 min"),
    ("named worker busy",
     WaitFacts(job=job(worker="smtp", queue="smtp"),
               queue=QueueLoad(settings=QueueSettings(name="smtp"), running=1), worker_busy=True),
     [R.WORKER_BUSY], "worker 'smtp' runs another job"),
    ("expired", WaitFacts(job=job(expires_at=NOW - 1000), queue=QueueLoad(settings=queue())),
     [R.EXPIRED], "expired at 2027-01-15 07:59:59Z; never starts"),
    ("expires later", WaitFacts(job=job(expires_at=NOW + 5000), queue=QueueLoad(settings=queue())),
     [R.READY],
     "ready: an engine running its command starts it next; expires at 2027-01-15 08:00:05Z"),
    ("several at once",
     WaitFacts(job=job(run_after=NOW + 2000, concurrency_key="k"), waiting_on=1,
               queue=QueueLoad(settings=queue(paused=True, concurrency=1), running=1),
               key_running=1),
     [R.DEPENDENCY, R.SCHEDULED, R.PAUSED, R.QUEUE_FULL, R.CONCURRENCY_KEY],
     "blocked by job 1 (it has not completed); scheduled to run in 2.0 s; queue 'q' is paused; "
     "queue 'q' is full (1 running, concurrency 1); waiting on key 'k' (1 running, limit 1)"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "facts", "reasons", "text"), CASES, ids=[c[0] for c in CASES])
def test_explain_names_every_reason_that_holds(
    name: str, facts: WaitFacts, reasons: list[WaitReason], text: str
) -> None:
    info = explain(facts, NOW)
    assert (info.reasons, info.text) == (reasons, text)
    assert info.job_id == 7 and info.state is JobState.QUEUED


def test_explain_gives_the_time_the_time_bound_reasons_end() -> None:
    load = QueueLoad(
        settings=queue(rate_limit=RateLimit(1, per=timedelta(seconds=5))), window_starts=1,
        window_frees_at=NOW + 3000,
    )  # fmt: skip
    assert explain(WaitFacts(job=job(), queue=load), NOW).until == NOW + 3000
    later = WaitFacts(job=job(run_after=NOW + 1000), queue=load)
    assert explain(later, NOW).until == NOW + 1000
    assert explain(WaitFacts(job=job(), queue=QueueLoad(settings=queue())), NOW).until is None


@pytest.mark.parametrize(
    ("state", "text"),
    [(JobState.STARTED, "running"), (JobState.COMPLETED, "not waiting: completed")],
)
def test_explain_a_job_that_is_not_queued_says_what_it_does(state: JobState, text: str) -> None:
    info = explain(WaitFacts(job=job(state=state), queue=QueueLoad(settings=queue())), NOW)
    assert (info.reasons, info.text) == ([], text)


def test_unique_key_is_the_same_for_equal_requests_whatever_their_key_order() -> None:
    assert canonical_json('{"b": 1, "a": [1, 2]}') == '{"a":[1,2],"b":1}'
    assert unique_key_for("send", '{"b": 1, "a": 2}') == unique_key_for("send", '{"a":2,"b":1}')
    assert unique_key_for("send", '{"a": 1}') != unique_key_for("other", '{"a": 1}')
    assert unique_key_for("send", '{"a": 1}').startswith("send:")


@pytest.mark.parametrize(
    ("template", "body", "key"),
    [
        ("user:{user_id}", '{"user_id": 42}', "user:42"),
        ("{tenant}/{user_id}", '{"tenant": "acme", "user_id": 1}', "acme/1"),
        ("global-import", "null", "global-import"),
    ],
)
def test_key_from_template_reads_request_fields(template: str, body: str, key: str) -> None:
    assert key_from_template(template, body, "send") == key


@pytest.mark.parametrize(
    ("template", "body", "message"),
    [
        ("user:{user_id}", '{"id": 1}', "its concurrency_key 'user:{user_id}' needs the request "
         "field(s) user_id"),
        ("user:{user_id}", "[1]", "reads request fields, but the request is not an object"),
        ("user:{user_id", '{"user_id": 1}', "expected '}' before end of string"),
    ],
)  # fmt: skip
def test_key_from_template_refuses_what_it_cannot_build(
    template: str, body: str, message: str
) -> None:
    with pytest.raises(InvalidOptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        key_from_template(template, body, "send")


@pytest.mark.parametrize(
    ("limit", "per", "message"),
    [
        (0, timedelta(seconds=1), "limit must be an int >= 1, got 0"),
        (True, timedelta(seconds=1), "limit must be an int >= 1, got True"),
        (5, timedelta(0), "per must be a timedelta of at least 1 ms"),
        (5, 1.0, "per must be a timedelta of at least 1 ms, got 1.0"),
    ],
)
def test_rate_limit_refuses_bad_values(limit: object, per: object, message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        RateLimit(limit, per=per)  # type: ignore[arg-type]


def test_rate_limit_reads_in_its_shortest_exact_unit() -> None:
    assert str(RateLimit(100, per=timedelta(minutes=1))) == "100/1m"
    assert str(RateLimit(10, per=timedelta(milliseconds=1500))) == "10/1500ms"
    assert RateLimit(3, per=timedelta(seconds=2)).per_ms == 2000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100/1m", RateLimit(100, per=timedelta(minutes=1))),
        ("10/s", RateLimit(10, per=timedelta(seconds=1))),
        (" 5 / 500ms ", RateLimit(5, per=timedelta(milliseconds=500))),
        ("1000/1.5h", RateLimit(1000, per=timedelta(minutes=90))),
        ("7/2d", RateLimit(7, per=timedelta(days=2))),
    ],
)
def test_rate_limit_parses_what_it_writes_and_operators_type(
    text: str, expected: RateLimit
) -> None:
    assert RateLimit.parse(text) == expected
    assert RateLimit.parse(str(expected)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("100", "expected N/WINDOW such as 100/1m, 10/s or 5/500ms; got '100'"),
        ("0/1s", "expected N/WINDOW such as 100/1m, 10/s or 5/500ms; got '0/1s'"),
        ("10/1w", "expected N/WINDOW such as 100/1m, 10/s or 5/500ms; got '10/1w'"),
        ("none", "expected N/WINDOW such as 100/1m, 10/s or 5/500ms; got 'none'"),
        ("5/0.5ms", "the window must be at least 1 ms, got '5/0.5ms'"),
        ("5/99999999999d", "the window is too long, got '5/99999999999d'"),
        (f"{2**31}/1s", f"RateLimit: limit must be at most 2147483647, got {2**31}"),
    ],
)
def test_rate_limit_parse_names_the_text_it_refuses(text: str, message: str) -> None:
    with pytest.raises(InvalidOptionError) as refused:
        RateLimit.parse(text)
    assert str(refused.value) == message
