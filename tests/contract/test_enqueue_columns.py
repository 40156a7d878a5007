"""`enqueue_each` (and a handle's `enqueue_many`) store what `enqueue_many` of one
`EnqueueRequest` a request stores: the same rows, ids, refusals and `existing` flags, for
every kind of option, on both stores."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jobs_core import (
    BackgroundJobs,
    DuplicateRefIdError,
    EnqueueRequest,
    InvalidOptionError,
    InvalidRequestError,
    JobContext,
    JobNotFoundError,
    JobRef,
    JobState,
    ManualClock,
    RetryPolicy,
    UnknownCommandError,
    UnserialisableRequestError,
)
from jobs_core.testing import eager
from tests.conftest import MakeJobs, pg_url


async def noop(req: object, ctx: JobContext) -> None:
    return None


@dataclass
class Mail:
    to: str


async def send(req: Mail) -> str:
    return req.to


def register(jobs: BackgroundJobs) -> None:
    jobs.command(noop)
    jobs.command("mail", worker="smtp", retry_limit=5, timeout=12)(noop)
    jobs.command("routed", queue="q", priority=2, concurrency_limit=3)(noop)
    jobs.command("tenant", concurrency_key="{tenant}")(noop)
    jobs.command("once", unique_while_active=True)(noop)
    jobs.command("shaped")(send)


@pytest.fixture
def fresh_location(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[], str]:
    """Fresh stores beside the test's: one for each path compared."""
    made = iter(range(100))

    def location() -> str:
        if backend == "sqlite":
            return str(tmp_path / f"other{next(made)}")
        return pg_url(request.getfixturevalue("pg_server"))

    return location


async def by_records(jobs: BackgroundJobs, made: list[EnqueueRequest]) -> list[JobRef]:
    """What `enqueue_many` stores through a `NewJob` a request (its only path before
    `plain_columns`), and the refs it returns that way."""
    now = jobs.clock.now_ms()
    new_jobs = await jobs._builder.build(made, now)
    ids = await jobs._store_jobs(new_jobs, now)
    return [
        JobRef(id=i, ref_id=j.ref_id, existing=n in ids.reused)
        for n, (i, j) in enumerate(zip(ids, new_jobs, strict=True))
    ]


Setup = Callable[[BackgroundJobs], Awaitable[object]]


async def nothing(jobs: BackgroundJobs) -> None:
    return None


async def a_parent(jobs: BackgroundJobs) -> None:
    await jobs.enqueue("noop", {"parent": True})


async def ref_taken(jobs: BackgroundJobs) -> None:
    await jobs.enqueue("noop", {"first": True}, ref_id="r")


async def key_held(jobs: BackgroundJobs) -> None:
    await jobs.enqueue("noop", {"first": True}, unique_key="u")
    await jobs.enqueue("once", {"i": 1})


REQUESTS = [{"i": i} for i in range(40)]
CASES: list[tuple[str, str, list[Any], dict[str, Any], Setup]] = [
    ("no option", "noop", REQUESTS, {}, nothing),
    ("300 jobs", "noop", [{"i": i} for i in range(300)], {}, nothing),
    ("one job", "noop", [{"i": 1}], {}, nothing),
    ("mixed request types", "noop", [None, 1, "a", [1], {"i": 1}, Mail("x"), 2.5], {}, nothing),
    ("routing", "noop", REQUESTS, {"queue": "q", "priority": 3, "concurrency_key": "k",
                                   "concurrency_limit": 2}, nothing),
    ("command's flow", "routed", REQUESTS, {}, nothing),
    ("worker", "mail", REQUESTS, {}, nothing),
    ("the rest", "noop", REQUESTS, {
        "tag": "t", "created_by": "ann", "user_id": "u1", "args": {"a": "b"},
        "callback": "noop", "parent_id": 1, "run_after": timedelta(minutes=5),
        "expires_in": timedelta(hours=1), "retry_limit": 7, "timeout": 3.5,
        "retry": RetryPolicy(backoff="fixed", base=2.0),
        "reply_to": "http://127.0.0.1:9/reply",
    }, a_parent),
    ("a few, the inbox's options", "noop", REQUESTS[:3], {
        "tag": "t", "created_by": "ann", "user_id": "u1", "args": {"a": "b"},
        "callback": "noop", "meta": {"m": "n"}, "queue": "q", "priority": 2,
        "expires_in": timedelta(hours=1), "retry": RetryPolicy(backoff="fixed", base=2.0),
        "reply_to": "http://127.0.0.1:9/reply",
    }, nothing),
    ("depends_on", "noop", REQUESTS, {"depends_on": 1}, a_parent),
    ("batch", "noop", REQUESTS, {"batch_id": "b"}, nothing),
    ("ref_id returned", "noop", REQUESTS[:1], {"ref_id": "r", "on_conflict": "return_existing"},
     ref_taken),
    ("ref_id replaced", "noop", REQUESTS[:1], {"ref_id": "r", "on_conflict": "replace"},
     ref_taken),
    ("unique key", "noop", REQUESTS, {"unique_key": "u"}, key_held),
    ("ref_id new", "noop", REQUESTS[:1], {"ref_id": "new"}, ref_taken),
    ("unique while active", "once", [{"i": 1}, {"i": 2}, {"i": 1}], {}, key_held),
    ("key from the request", "tenant", [{"tenant": f"t{i % 3}"} for i in range(9)], {},
     nothing),
    ("shape, plain values", "shaped", [{"to": "a"}, Mail("b")], {}, nothing),
]  # fmt: skip


async def stored(jobs: BackgroundJobs, refs: list[JobRef]) -> list[Any]:
    found = [await jobs.get_job(r.id) for r in refs]
    return [(f.job, dataclasses.replace(f.summary)) for f in found if f is not None]


@pytest.mark.parametrize(
    ("command", "requests", "options", "setup"),
    [case[1:] for case in CASES], ids=[case[0] for case in CASES],
)  # fmt: skip
async def test_enqueue_each_stores_what_enqueue_many_stores(
    make_jobs: MakeJobs, fresh_location: Callable[[], str], clock: ManualClock, command: str,
    requests: list[Any], options: dict[str, Any], setup: Setup,
) -> None:  # fmt: skip
    records, many, each = (make_jobs(fresh_location(), clock=clock) for _ in range(3))
    for jobs in (records, many, each):
        register(jobs)
        await setup(jobs)
    made = [EnqueueRequest(command=command, request=r, **options) for r in requests]
    expected = await by_records(records, made)
    assert await many.enqueue_many(made) == expected
    refs = await each.enqueue_each(command, requests, **options)
    assert list(refs) == expected and refs == expected and len(refs) == len(requests)
    assert refs.ids == tuple(r.id for r in expected)
    rows = await stored(records, expected)
    assert await stored(many, expected) == rows and await stored(each, list(refs)) == rows
    counts = await records.counts()  # no job more, none fewer
    assert await many.counts() == counts and await each.counts() == counts


async def test_a_handle_enqueue_many_returns_typed_handles(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    handle = jobs.command(send)
    handles = await handle.enqueue_many(iter([Mail("a"), Mail("b")]), tag="t")
    assert [h.command for h in handles] == ["send", "send"]
    assert handles[-1].id == handles[0].id + 1 and handles[1:] == [handles[1]]
    assert (await handles[0].get()).job is not None
    async with jobs:
        assert await handles[1].wait(timeout=10) == "b"


async def refused_alike(
    records: BackgroundJobs, columns: BackgroundJobs, error: type[Exception], match: str,
    command: str, requests: list[Any], **options: Any,
) -> None:  # fmt: skip
    made = [EnqueueRequest(command=command, request=r, **options) for r in requests]
    with pytest.raises(error, match=match) as expected:
        await by_records(records, made)
    with pytest.raises(error, match=match) as many:
        await columns.enqueue_many(made)
    with pytest.raises(error, match=match) as each:
        await columns.enqueue_each(command, requests, **options)
    assert str(each.value) == str(many.value) == str(expected.value)
    assert await columns.counts() == await records.counts()


async def test_enqueue_each_refuses_what_enqueue_many_refuses_and_stores_nothing(
    make_jobs: MakeJobs, fresh_location: Callable[[], str]
) -> None:
    records, columns = make_jobs(), make_jobs(fresh_location())
    for jobs in (records, columns):
        register(jobs)
        await ref_taken(jobs)
    many = [{"i": i} for i in range(20)]
    cases: list[tuple[type[Exception], str, str, list[Any], dict[str, Any]]] = [
        (DuplicateRefIdError, "'r'", "noop", many[:1], {"ref_id": "r"}),
        (DuplicateRefIdError, "two jobs in one enqueue", "noop", many, {"ref_id": "s"}),
        (InvalidOptionError, "priority", "noop", many, {"priority": "high"}),
        (InvalidOptionError, "queue 'other'", "mail", many, {"queue": "other"}),
        (UnknownCommandError, "no command named 'nope'", "nope", many, {}),
        (UnknownCommandError, "no command named 'later'", "noop", many, {"callback": "later"}),
        (JobNotFoundError, "there is no job 99", "noop", many, {"depends_on": 99}),
        (UnserialisableRequestError, "command 'noop'", "noop", [*many, {"s": {1}}], {}),
        (InvalidRequestError, "to", "shaped", [{"to": "a"}, {"to": 1}], {}),
    ]  # fmt: skip
    for error, match, command, requests, options in cases:
        await refused_alike(records, columns, error, match, command, requests, **options)
    assert (await columns.counts())[JobState.QUEUED] == 1


async def test_enqueue_each_of_no_request_stores_nothing(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    register(jobs)
    refs = await jobs.enqueue_each("noop", [])
    assert len(refs) == 0 and list(refs) == [] and refs.ids == ()
    assert (await jobs.counts())[JobState.QUEUED] == 0


async def test_enqueue_each_wakes_the_engine_and_runs_under_eager(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    handle = jobs.command(send)
    async with jobs:
        handles = await handle.enqueue_many([Mail(str(i)) for i in range(50)])
        assert [await h.wait(timeout=10) for h in handles] == [str(i) for i in range(50)]
        with eager(jobs):
            ran = await handle.enqueue_many([Mail("now")])
            assert (await ran[0].get()).state is JobState.COMPLETED


LONE_ROUTED: list[tuple[str, Any, dict[str, Any]]] = [
    ("noop", {"i": 1}, {"queue": "q"}),
    ("noop", {"i": 2}, {"priority": 3}),
    ("noop", {"i": 3}, {"priority": -2, "concurrency_key": "k"}),
    ("noop", None, {"queue": "q", "priority": 1, "concurrency_key": "k"}),
    ("routed", {"i": 4}, {"priority": 5}),  # the command's own flow: the general path
    ("tenant", {"tenant": "t1"}, {"queue": "q"}),
    ("mail", {"i": 5}, {"priority": 1}),  # a named worker's: the general path
    ("shaped", {"to": "a"}, {"queue": "q"}),
]


async def test_a_lone_enqueue_with_a_queue_priority_or_key_stores_what_the_records_store(
    make_jobs: MakeJobs, fresh_location: Callable[[], str], clock: ManualClock
) -> None:
    records, lone = make_jobs(clock=clock), make_jobs(fresh_location(), clock=clock)
    for jobs in (records, lone):
        register(jobs)
    for command, request, options in LONE_ROUTED:
        [expected] = await by_records(
            records, [EnqueueRequest(command=command, request=request, **options)]
        )
        assert await lone.enqueue(command, request, **options) == expected
        assert await stored(lone, [expected]) == await stored(records, [expected])
        if command == "noop":  # no flow of its own: the options as given
            job = (await lone.get_job(expected.id)).job
            assert job is not None
            assert (job.queue, job.priority, job.concurrency_key) == (
                options.get("queue", "default"),
                options.get("priority", 0),
                options.get("concurrency_key"),
            )


async def test_a_lone_routed_enqueue_refuses_what_enqueue_many_refuses(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs()
    register(jobs)
    cases: list[tuple[type[Exception], str, str, Any, dict[str, Any]]] = [
        (InvalidOptionError, "priority", "noop", {}, {"priority": "high"}),
        (InvalidOptionError, "priority", "noop", {}, {"priority": True}),
        (InvalidOptionError, "queue", "noop", {}, {"queue": ""}),
        (InvalidOptionError, "concurrency_key", "noop", {}, {"concurrency_key": " "}),
        (InvalidOptionError, "queue 'other'", "mail", {}, {"queue": "other"}),
        (UnknownCommandError, "no command named 'nope'", "nope", {}, {"queue": "q"}),
        (InvalidRequestError, "to", "shaped", {"to": 1}, {"priority": 1}),
        (UnserialisableRequestError, "command 'noop'", "noop", {"s": {1}}, {"queue": "q"}),
    ]  # fmt: skip
    for error, match, command, request, options in cases:
        with pytest.raises(error, match=match) as lone:
            await jobs.enqueue(command, request, **options)
        with pytest.raises(error) as many:
            await jobs.enqueue_many([EnqueueRequest(command=command, request=request, **options)])
        assert str(lone.value) == str(many.value)
    assert await jobs.count_jobs() == 0
