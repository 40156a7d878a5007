"""An enqueue of one job that is ready and due at once names it in its notification, and an
engine whose last plain claim came back short starts such jobs by id (`default_idle.py`,
`flow_claims.CLAIM_IDS`) instead of running the plain claim: one awaited enqueue a job
costs the engine a claim of one a job (bench/README.md, issue 9's tenth pass). A claim by
id must never start a job the plain claim would not, nor strand one: a job it cannot start
(taken, cancelled, not due by this engine's clock), anything else another process changed,
or more ids than the engine has room for, and the next claim looks at the table."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jobs_core.records import Job
from jobs_core.store.postgres import PostgresStore, flow_claims, listener, queue
from jobs_core.store.protocol import NewJob
from tests.conftest import wait_until
from tests.postgres.test_default_claim_skip import NOW
from tests.postgres.test_named_claim_skip import listening


def new(i: int, **more: Any) -> NewJob:
    fields: dict[str, Any] = dict(
        command="c", request_type="dict", request_body=json.dumps({"i": i}), worker="",
        run_after=NOW, retry_limit=0, timeout_secs=60.0,
    )  # fmt: skip
    return NewJob(**(fields | more))


Stores = tuple[PostgresStore, PostgresStore]
"""An engine's store and a producer's, on one schema."""


@pytest.fixture
async def stores(store_url: str) -> AsyncIterator[Stores]:
    engine, producer = PostgresStore(store_url), PostgresStore(store_url)
    try:
        yield engine, producer
    finally:
        await producer.close()
        await engine.close()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """One entry per claim statement: `plain` (default), `named`, or `ids` (by id). The
    listener's probe is held off (it moves the token once a second when anything
    committed)."""
    monkeypatch.setattr(listener, "PROBE_SECS", 300.0)
    statements: list[str] = []
    claim, claim_ids = flow_claims.claim, flow_claims.claim_ids

    async def spy_claim(conn: Any, **kwargs: Any) -> flow_claims.ClaimRound:
        statements.append("named" if kwargs["named"] else "plain")
        return await claim(conn, **kwargs)

    async def spy_ids(conn: Any, **kwargs: Any) -> tuple[list[Job], int]:
        statements.append("ids")
        return await claim_ids(conn, **kwargs)

    monkeypatch.setattr(flow_claims, "claim", spy_claim)
    monkeypatch.setattr(flow_claims, "claim_ids", spy_ids)
    return statements


async def claim(store: PostgresStore, *, named: bool = False, limit: int = 10) -> list[int]:
    jobs = await store.claim(owner="e1", commands=["c"], named=named, limit=limit, now=NOW)
    return [j.id for j in jobs]


async def announced(store: PostgresStore, n: int) -> None:
    await wait_until(lambda: len(store._listener.announced) >= n, what="the announcement")


@pytest.fixture
async def idle_stores(stores: Stores, sent: list[str]) -> Stores:
    """`stores`, the engine's listening and its last plain claims short (they found
    nothing), so the next claims may skip; `sent` cleared."""
    engine, _ = stores
    await listening(engine)
    assert await claim(engine) == []
    assert await claim(engine, named=True) == []
    sent.clear()
    return stores


async def test_another_process_enqueue_is_started_by_id_and_the_skips_go_on(
    idle_stores: Stores, sent: list[str]
) -> None:
    engine, producer = idle_stores
    for i in range(3):
        token = engine.change_token()
        [job] = await producer.enqueue([new(i)], NOW)
        await announced(engine, 1)
        assert engine.change_token() != token  # the wake-up still comes
        assert await claim(engine) == [job]
        assert await claim(engine) == []  # nothing else: no statement
        assert await claim(engine, named=True) == []  # nor for named workers
        assert await engine.next_due(NOW) is None
    assert sent == ["ids"] * 3


async def test_announced_jobs_come_in_the_plain_claims_order(
    idle_stores: Stores, sent: list[str]
) -> None:
    engine, producer = idle_stores
    [low] = await producer.enqueue([new(0)], NOW)
    [high] = await producer.enqueue([new(1, priority=5)], NOW)
    [other] = await producer.enqueue([new(2, queue="q2")], NOW)
    await announced(engine, 3)
    assert await claim(engine) == [high, low, other]
    assert sent == ["ids"]


async def test_a_job_another_engine_took_leaves_the_skip_a_locked_one_ends_it(
    idle_stores: Stores, sent: list[str]
) -> None:
    """A claim sends no notification: the claim by id finds the job started and starts
    nothing; nothing else is ready, so the next claim sends nothing. A job it skipped
    (locked) is still queued: the next claim looks at the table."""
    engine, producer = idle_stores
    [taken] = await producer.enqueue([new(0)], NOW)
    await announced(engine, 1)
    rival = await producer.claim(owner="e2", commands=["c"], named=False, limit=1, now=NOW)
    assert [j.id for j in rival] == [taken]
    sent.clear()  # the rival's claim
    assert await claim(engine) == []
    assert await claim(engine) == []
    assert sent == ["ids"]

    [left] = await producer.enqueue([new(1)], NOW)
    await announced(engine, 1)
    locked = await producer._db.pool()
    async with locked.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM background_job WHERE id = $1 FOR UPDATE", left)
        assert await claim(engine) == []  # locked: skipped, still queued
    assert await claim(engine) == [left]  # so the table is looked at
    assert sent == ["ids", "ids", "plain"]


async def test_jobs_of_commands_this_engine_does_not_run_need_no_claim(
    idle_stores: Stores, sent: list[str]
) -> None:
    engine, producer = idle_stores
    [other] = await producer.enqueue([new(0, command="d")], NOW)
    await announced(engine, 1)
    assert engine._listener.announced == [(other, "d")]
    assert await claim(engine) == []
    assert sent == []
    [mine] = await producer.enqueue([new(1)], NOW)
    await announced(engine, 1)
    assert await claim(engine) == [mine]
    assert sent == ["ids"]


async def test_a_job_not_due_by_this_engines_clock_is_claimed_when_due(
    idle_stores: Stores, sent: list[str]
) -> None:
    """The producer's clock is ahead: announced, the job is not due at the engine's `now`;
    the plain claim then says when it falls due, and it is claimed then."""
    engine, producer = idle_stores
    [ahead] = await producer.enqueue([new(0, run_after=NOW + 5)], NOW + 5)
    await announced(engine, 1)
    assert await claim(engine) == []
    assert await claim(engine) == []
    assert await engine.next_due(NOW) == NOW + 5
    assert sent == ["ids", "plain"]
    jobs = await engine.claim(owner="e1", commands=["c"], named=False, limit=10, now=NOW + 5)
    assert [j.id for j in jobs] == [ahead]


async def test_another_change_or_too_many_ids_make_it_look_at_the_table(
    idle_stores: Stores, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, producer = idle_stores
    [gone] = await producer.enqueue([new(0)], NOW)
    await announced(engine, 1)
    token = engine.change_token()
    await producer.request_cancel(gone, "no", NOW)
    await wait_until(lambda: engine.change_token() != token, what="the cancel's notice")
    assert await claim(engine) == []
    assert sent == ["plain"]

    sent.clear()
    ids = [(await producer.enqueue([new(i)], NOW))[0] for i in range(3)]
    await announced(engine, 3)
    assert await claim(engine, limit=2) == ids[:2]  # more than room for: the table
    assert sent == ["plain"]
    assert await claim(engine) == ids[2:]

    assert await claim(engine) == []
    sent.clear()
    monkeypatch.setattr(listener, "MAX_ANNOUNCED", 2)
    token = engine.change_token()
    ids = [(await producer.enqueue([new(i)], NOW))[0] for i in range(3)]
    await wait_until(lambda: engine.change_token() >= token + 3, what="three notices")
    assert engine._listener.announced == []  # the third: a change like any other
    assert await claim(engine) == ids
    assert sent == ["plain"]


async def test_a_job_another_process_enqueues_for_later_or_with_a_key_is_not_announced(
    idle_stores: Stores, sent: list[str]
) -> None:
    engine, producer = idle_stores
    token = engine.change_token()
    [later] = await producer.enqueue([new(0, run_after=NOW + 1000)], NOW)
    await wait_until(lambda: engine.change_token() != token, what="the notification")
    assert engine._listener.announced == []
    assert await claim(engine) == []
    assert sent == ["plain"]
    assert await engine.next_due(NOW) == NOW + 1000
    jobs = await engine.claim(owner="e1", commands=["c"], named=False, limit=10, now=NOW + 1000)
    assert [j.id for j in jobs] == [later]


def test_which_enqueues_announce_their_job() -> None:
    assert queue.announced(new(0), NOW)
    assert queue.announced(new(0, queue="q", priority=3, expires_at=NOW + 1), NOW)
    for job in (
        new(0, run_after=NOW + 1), new(0, worker="w"), new(0, concurrency_key="k"),
        new(0, expires_at=NOW), new(0, depends_on=1), new(0, ref_id="r"),
        new(0, unique_key="u"), new(0, batch_id="b"),
    ):  # fmt: skip
        assert not queue.announced(job, NOW), job
