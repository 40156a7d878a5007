"""The SQLite flow claim's decision (`flow_claim.choose`) as a table, and one claim of
several rounds against the store: a queue's room is the claim's own tally across rounds,
so a rate limit holds inside one claim too."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from jobs_core.store.protocol import NewJob, QueueChange
from jobs_core.store.sqlite.flow_claim import Candidate, Choice, choose, turns
from jobs_core.store.sqlite.store import SqliteStore

NOW = 1_764_000_000_000


def job(
    id: int, queue: str = "q", priority: int = 0, run_after: int = 0,
    key: str | None = None, key_limit: int = 1, key_running: int = 0,
) -> Candidate:  # fmt: skip
    return (id, queue, priority, run_after, key, key_limit, key_running)


def by_queue(*jobs: Candidate) -> list[Candidate]:
    """Candidates in the order `CANDIDATES` reads them: by queue, then place in the queue."""
    return sorted(jobs, key=lambda c: (c[1], -c[2], c[3], c[0]))


CASES = [
    pytest.param(
        [job(1), job(2), job(3)], {}, 10, 10, Choice(start=[1, 2, 3], park=[]),
        id="a queue without settings gives all its candidates",
    ),
    pytest.param(
        [job(1), job(2), job(3)], {"q": 2}, 10, 10, Choice(start=[1, 2], park=[]),
        id="a queue's room caps its jobs",
    ),
    pytest.param(
        [job(1), job(2)], {"q": 0}, 10, 10, Choice(start=[], park=[]),
        id="a paused or full queue gives none",
    ),
    pytest.param(
        [job(1), job(2)], {"q": -3}, 10, 10, Choice(start=[], park=[]),
        id="a queue over its limit (lowered meanwhile) gives none",
    ),
    pytest.param(
        [job(1), job(2), job(3)], {}, 2, 10, Choice(start=[1, 2], park=[]),
        id="the round's cap per queue",
    ),
    pytest.param(
        [job(1), job(2), job(3), job(4, "r")], {}, 10, 2, Choice(start=[1, 4], park=[]),
        id="at most what the batch has left, queues taking turns",
    ),
    pytest.param(
        [job(1, priority=0), job(2, priority=5), job(3, "r", run_after=9), job(4, "r")],
        {}, 10, 10, Choice(start=[2, 4, 1, 3], park=[]),
        id="turns: first of each queue (by priority, then due), oldest first, then seconds",
    ),
    pytest.param(
        [job(1, key="k"), job(2, "r", priority=3, key="k"), job(3)], {}, 10, 10,
        Choice(start=[2, 3], park=[1]),
        id="one key across queues: its first by priority runs, the other is parked",
    ),
    pytest.param(
        [job(1, key="k", key_running=1), job(2, key="j")], {}, 10, 10,
        Choice(start=[2], park=[1]),
        id="a key at its limit already parks its job",
    ),
    pytest.param(
        [job(1, key="k", key_limit=2), job(2, key="k", key_limit=2), job(3, key="k", key_limit=2)],
        {}, 10, 10, Choice(start=[1, 2], park=[3]),
        id="a key's limit lets that many run",
    ),
    pytest.param(
        [job(1), job(2, key="k"), job(3, key="k")], {"q": 2}, 10, 10,
        Choice(start=[1, 2], park=[]),
        id="jobs beyond the queue's room are neither started nor parked",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("candidates", "room", "cap", "left", "expected"), CASES)
def test_choose(
    candidates: list[Candidate], room: dict[str, int | None], cap: int, left: int,
    expected: Choice,
) -> None:  # fmt: skip
    assert choose(by_queue(*candidates), room, cap, left) == expected


async def test_a_rate_limit_holds_across_the_rounds_of_one_claim(tmp_path: Path) -> None:
    """A claim of 100 with a rate-limited queue of 60 a minute and another queue: the first
    round offers each queue 50, the limited one takes them all, so a second round offers it
    the rest of the batch. Its starts of the first round count against its window (they are
    logged only when the claim ends: a second round that read the log would see none)."""
    store = SqliteStore(str(tmp_path))
    try:
        await store.set_queue("a", QueueChange(rate_limit=60, rate_per_ms=60_000), NOW)
        await store.enqueue(
            [
                NewJob(command="c", request_type="dict", request_body="{}", worker="",
                       run_after=NOW, retry_limit=0, timeout_secs=60.0, queue=queue)
                for queue in ["a"] * 100 + ["b"] * 5
            ],
            NOW,
        )  # fmt: skip
        jobs = await store.claim(owner="o", commands=["c"], named=False, limit=100, now=NOW)
        again = await store.claim(owner="o", commands=["c"], named=False, limit=100, now=NOW)
    finally:
        await store.close()
    assert sorted(j.queue for j in jobs).count("a") == 60
    assert [j.queue for j in jobs].count("b") == 5
    assert again == []


def keyed(queue: str, key: str | None = None, priority: int = 0) -> NewJob:
    return NewJob(command="c", request_type="dict", request_body="{}", worker="",
                  run_after=NOW, retry_limit=0, timeout_secs=60.0, queue=queue,
                  priority=priority, concurrency_key=key)  # fmt: skip


async def test_a_direct_round_of_two_jobs_of_one_key_starts_one(tmp_path: Path) -> None:
    """Two queues (a claim of rounds), a job of key k first in each: started in one
    statement both would run; the round is rolled back and decided: one starts, the other
    is parked and stays queued until k's job ends."""
    store = SqliteStore(str(tmp_path))
    try:
        await store.set_queue("a", QueueChange(concurrency=10), NOW)
        ids = await store.enqueue(
            [keyed("a", "k", 5), keyed("b", "k", 5), keyed("a"), keyed("b")], NOW
        )
        jobs = await store.claim(owner="o", commands=["c"], named=False, limit=10, now=NOW)
        again = await store.claim(owner="o", commands=["c"], named=False, limit=10, now=NOW)
    finally:
        await store.close()
    started = sorted(j.id for j in jobs)
    assert len([i for i in started if i in ids[:2]]) == 1
    assert set(ids[2:]) <= set(started)
    assert again == []


async def test_a_direct_round_skips_a_held_key_and_the_next_round_parks_it(
    tmp_path: Path,
) -> None:
    """Key k runs; its next job is first in queue a: the direct round starts what follows
    it and the round after parks it, so the claim is not held up and the job waits."""
    store = SqliteStore(str(tmp_path))
    try:
        await store.set_queue("a", QueueChange(concurrency=10), NOW)
        await store.enqueue([keyed("a", "k", 9)], NOW)
        running = await store.claim(owner="o", commands=["c"], named=False, limit=1, now=NOW)
        held, *others = await store.enqueue(
            [keyed("a", "k", 9), keyed("a"), keyed("a"), keyed("b")], NOW
        )
        jobs = await store.claim(owner="o", commands=["c"], named=False, limit=100, now=NOW)
        found = await store.get_job(held)
    finally:
        await store.close()
    assert len(running) == 1
    assert sorted(j.id for j in jobs) == sorted(others)
    assert found is not None and found.queued is not None
    assert found.queued.state.value == "queued"
    with closing(sqlite3.connect(tmp_path / "jobs.db")) as conn:
        parked = conn.execute("SELECT key_parked FROM background_job WHERE id = ?", (held,))
        assert parked.fetchone() == (1,)


async def test_a_direct_round_keeps_to_a_queues_room(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path))
    try:
        await store.set_queue("a", QueueChange(concurrency=3), NOW)
        await store.enqueue([keyed("a") for _ in range(10)] + [keyed("b")], NOW)
        jobs = await store.claim(owner="o", commands=["c"], named=False, limit=100, now=NOW)
        again = await store.claim(owner="o", commands=["c"], named=False, limit=100, now=NOW)
    finally:
        await store.close()
    assert [j.queue for j in jobs].count("a") == 3
    assert [j.queue for j in jobs].count("b") == 1
    assert again == []


@pytest.mark.parametrize(
    ("offers", "left", "expected"),
    [
        pytest.param([20, 20, 20], 100, [20, 20, 20], id="all fit: as offered"),
        pytest.param([8, 8, 8, 8, 8], 37, [7, 7, 7, 7, 7], id="whole turns only"),
        pytest.param([1, 8, 8], 10, [1, 4, 4], id="a queue with less drops out"),
        pytest.param([0, 8], 5, [0, 5], id="a full queue gives none"),
        pytest.param([1, 1], 1, [0, 0], id="not one whole turn"),
    ],
)
def test_turns(offers: list[int], left: int, expected: list[int]) -> None:
    assert turns(offers, left) == expected
