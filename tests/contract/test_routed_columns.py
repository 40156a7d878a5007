"""`enqueue_many` of requests that set a queue, a priority or a concurrency key and no other
option goes as columns with each job's routing (`columns.routed_columns`): it stores what
the record path stores (the same rows, ids numbered by priority, refusals), on both
stores, alone or sharing a group commit with another caller."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobs_core import BackgroundJobs, EnqueueRequest, InvalidOptionError, JobRef, ManualClock
from jobs_core.columns import routed_columns
from jobs_core.store.protocol import JobColumns
from tests.conftest import MakeJobs, pg_url
from tests.contract.test_enqueue_columns import by_records, register, stored

QUEUES = ("mail", "billing", "reports", "media", "webhooks")


def mixed(first: int, n: int, command: str = "noop") -> list[EnqueueRequest]:
    """`throughput.py`'s mixed workload: 5 queues, priorities 0-3, a key on one job in five."""
    return [
        EnqueueRequest(
            command=command, request={"i": i}, queue=QUEUES[i % 5], priority=(i * 7) % 4,
            concurrency_key=f"user:{i % 7}" if i % 10 < 2 else None,
        )
        for i in range(first, first + n)
    ]  # fmt: skip


class Level(enum.IntEnum):
    HIGH = 5


class Name(str):
    pass


def some_unset(n: int) -> list[EnqueueRequest]:
    """Requests of which some set nothing, some only one of the three."""
    made = []
    for i in range(n):
        options: dict[str, Any] = [
            {}, {"queue": "q"}, {"priority": -2}, {"concurrency_key": "k"},
            {"queue": "default", "priority": 0},
        ][i % 5]  # fmt: skip
        made.append(EnqueueRequest(command="noop", request={"i": i}, **options))
    return made


def each(command: str, n: int, **options: Any) -> list[EnqueueRequest]:
    return [EnqueueRequest(command=command, request=i, **options) for i in range(n)]


CASES: dict[str, list[EnqueueRequest]] = {
    "mixed workload": mixed(0, 300),
    "some unset": some_unset(23),
    "one priority": [EnqueueRequest(command="noop", request=i, queue=QUEUES[i % 5])
                     for i in range(40)],
    "priorities rising": [EnqueueRequest(command="noop", request=i, priority=i)
                          for i in range(40)],
    "a command's key limit": [
        EnqueueRequest(command="limited", request=i, concurrency_key=f"k{i % 2}" if i % 3 else None)
        for i in range(30)
    ],
    "request types": [EnqueueRequest(command="noop", request=r, priority=i % 2)
                      for i, r in enumerate([None, 1, "a", [1], {"i": 1}, 2.5])],
    "shape checked": [EnqueueRequest(command="shaped", request={"to": str(i)}, queue="q",
                                     priority=i % 3) for i in range(10)],
    # Not as columns (the record path builds them), stored alike all the same:
    "an IntEnum priority": each("noop", 3, priority=Level.HIGH),
    "a str subclass": each("noop", 3, queue=Name("q")),
    "a worker's command": each("mail", 3, priority=1),
    "another option": each("noop", 3, queue="q", tag="t"),
    "command's flow": each("routed", 3, priority=1),
}  # fmt: skip
AS_COLUMNS = {"mixed workload", "some unset", "one priority", "priorities rising",
              "a command's key limit", "request types", "shape checked"}  # fmt: skip


@pytest.fixture
def fresh_location(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[], str]:
    """A fresh store beside the test's, for the record path to fill."""

    def location() -> str:
        if backend == "sqlite":
            return str(tmp_path / "records")
        return pg_url(request.getfixturevalue("pg_server"))

    return location


def register_all(jobs: BackgroundJobs) -> None:
    register(jobs)
    jobs.command("limited", concurrency_limit=3)(_noop)


async def _noop(req: object) -> None:
    return None


@pytest.mark.parametrize("case", list(CASES))
async def test_routed_requests_store_what_the_record_path_stores(
    make_jobs: MakeJobs, fresh_location: Callable[[], str], clock: ManualClock, case: str
) -> None:
    records, columns = make_jobs(fresh_location(), clock=clock), make_jobs(clock=clock)
    for jobs in (records, columns):
        register_all(jobs)
    made = CASES[case]
    built = routed_columns(columns._builder, made, clock.now_ms())
    assert (built is not None) == (case in AS_COLUMNS)
    expected = await by_records(records, made)
    assert await columns.enqueue_many(made) == expected
    assert await stored(columns, expected) == await stored(records, expected)
    assert await columns.counts() == await records.counts()


async def test_routed_columns_reach_the_store_as_columns(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = make_jobs()
    register_all(jobs)
    given: list[JobColumns] = []
    enqueue_columns = jobs.store.enqueue_columns

    async def spy(columns: JobColumns, now: int) -> Any:
        given.append(columns)
        return await enqueue_columns(columns, now)

    monkeypatch.setattr(jobs.store, "enqueue_columns", spy)
    refs = await jobs.enqueue_many(mixed(0, 50))
    assert len(given) == 1 and given[0].routing is not None and len(refs) == 50
    assert list(given[0].routing.queues[:3]) == ["mail", "billing", "reports"]


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL has no group commit
async def test_two_routed_callers_in_one_group_store_what_records_store(
    make_jobs: MakeJobs, fresh_location: Callable[[], str], clock: ManualClock, backend: str
) -> None:
    """Callers whose enqueues share a transaction (SQLite's group commit): their columns
    are made records. (On PostgreSQL two callers are two enqueues, committed in either
    order: nothing to compare.)"""
    records, columns = make_jobs(fresh_location(), clock=clock), make_jobs(clock=clock)
    for jobs in (records, columns):
        register_all(jobs)
    first, second = mixed(0, 40), mixed(40, 40)
    want = await asyncio.gather(by_records(records, first), by_records(records, second))
    got = await asyncio.gather(columns.enqueue_many(first), columns.enqueue_many(second))
    expected: list[JobRef] = [*want[0], *want[1]]
    assert [*got[0], *got[1]] == expected
    # One transaction numbered both callers' jobs, by priority.
    assert max(r.id for r in got[0]) > min(r.id for r in got[1])
    assert await stored(columns, expected) == await stored(records, expected)


async def test_a_bad_routing_value_is_refused_as_the_record_path_refuses_it(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs()
    register_all(jobs)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"queue": " q"}, "queue"), ({"queue": ""}, "queue"), ({"priority": 2_000_000}, "priority"),
        ({"priority": True}, "priority"), ({"priority": 1.5}, "priority"),
        ({"concurrency_key": " "}, "concurrency_key"), ({"queue": 3}, "queue"),
    ]  # fmt: skip
    for options, name in bad:
        made = [*mixed(0, 5), EnqueueRequest(command="noop", request=9, **options)]
        assert routed_columns(jobs._builder, made, 0) is None
        with pytest.raises(InvalidOptionError, match=name):
            await jobs.enqueue_many(made)
    assert sum((await jobs.counts()).values()) == 0
