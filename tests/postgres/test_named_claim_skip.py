"""A named claim sends no statement while nothing can have made a named worker's job ready
since a plain claim saw none (`named_idle.py`): an engine asks for named jobs
after every change another process announces, and one job at a time that was a round trip
a job (bench/README.md, issue 9's eighth pass). Anything that may make one ready makes the
next named claim look again: another process's enqueue of a named worker's job (its
notification; one of default-worker jobs alone says so, and does not), this store's own
calls, an outcome that retries a job."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from jobs_core import JobState
from jobs_core.records import AttemptOutcome
from jobs_core.store.postgres import PostgresStore, flow_claims, listener
from jobs_core.store.protocol import NewJob, Transition
from tests.conftest import wait_until
from tests.postgres.test_plain_claim import cli

NOW = 1_764_000_000_000


def new(i: int, worker: str = "") -> NewJob:
    return NewJob(command="c", request_type="dict", request_body=json.dumps({"i": i}),
                  worker=worker, run_after=NOW, retry_limit=3, timeout_secs=60.0,
                  queue=worker or "default")  # fmt: skip


@pytest.fixture
def named_statements(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per named claim statement sent to the server. The listener's probe, which
    moves the token once a second when anything committed (our own writes too), is held
    off: a test's claims would otherwise look again whenever it fell between them."""
    monkeypatch.setattr(listener, "PROBE_SECS", 300.0)
    sent: list[int] = []
    real = flow_claims.claim

    async def spy(conn: Any, **kwargs: Any) -> flow_claims.ClaimRound:
        if kwargs["named"]:
            sent.append(1)
        return await real(conn, **kwargs)

    monkeypatch.setattr(flow_claims, "claim", spy)
    return sent


async def listening(store: PostgresStore) -> None:
    store.change_token()
    await wait_until(lambda: store._listener.connected, what="the listener connected")


async def claim(store: PostgresStore, named: bool, now: int = NOW) -> list[int]:
    limit = 1000 if named else 10
    jobs = await store.claim(owner="e1", commands=["c"], named=named, limit=limit, now=now)
    return [j.id for j in jobs]


async def test_no_statement_while_nothing_changed_then_another_process_enqueues(
    store_url: str, named_statements: list[int]
) -> None:
    store = PostgresStore(store_url)
    try:
        await listening(store)
        await store.enqueue([new(0)], NOW)
        assert len(await claim(store, named=False)) == 1
        assert await claim(store, named=True) == []
        assert await claim(store, named=True) == []
        assert named_statements == []

        # Another process's enqueue of a default-worker job: claimed, the named claim skipped.
        token = store.change_token()
        await cli("enqueue", store_url, "c", "{}")
        await wait_until(lambda: store.change_token() != token, what="the notification")
        assert len(await claim(store, named=False, now=int(time.time() * 1000) + 1000)) == 1
        assert await claim(store, named=True) == []
        assert named_statements == []

        token = store.change_token()
        await cli("enqueue", "--worker", "solo", store_url, "c", "{}")
        await wait_until(lambda: store.change_token() != token, what="the notification")
        # Looked again, and found it (due at the CLI's clock).
        assert len(await claim(store, named=True, now=int(time.time() * 1000) + 1000)) == 1
        assert named_statements == [1]
    finally:
        await store.close()


async def test_this_stores_own_enqueue_and_a_retried_named_job_make_it_look_again(
    store_url: str, named_statements: list[int]
) -> None:
    store = PostgresStore(store_url)
    try:
        await listening(store)
        assert await claim(store, named=False) == []
        await store.enqueue([new(1, "solo")], NOW)  # this store's call: counted
        [job_id] = await claim(store, named=True)
        assert named_statements == [1]

        assert await claim(store, named=False) == []  # sees none ready: the job runs
        retry = Transition(job_id=job_id, state=JobState.QUEUED, owner_guard="e1",
                           run_after=NOW, outcome=AttemptOutcome.FAILED)  # fmt: skip
        await store.finish([retry], [], NOW)  # an outcome write: not counted, but a retry
        assert await claim(store, named=True) == [job_id]
        assert named_statements == [1, 1]
    finally:
        await store.close()


async def test_a_completed_outcome_written_meanwhile_leaves_the_named_claim_skipped(
    store_url: str, named_statements: list[int]
) -> None:
    """An outcome that ends its job makes no job ready: the engine writes them beside its
    claims, and they do not cost the named claim its skip."""
    store = PostgresStore(store_url)
    try:
        await listening(store)
        await store.enqueue([new(0), new(1)], NOW)
        first, _ = await claim(store, named=False)
        assert await claim(store, named=False) == []
        done = Transition(job_id=first, state=JobState.COMPLETED, owner_guard="e1",
                          response_body="null", outcome=AttemptOutcome.COMPLETED)  # fmt: skip
        await store.finish([done], [], NOW)
        assert await claim(store, named=True) == []
        assert named_statements == []
    finally:
        await store.close()


async def test_without_the_listener_every_named_claim_is_sent(
    store_url: str, named_statements: list[int]
) -> None:
    """Without a connected listener a change by another process could go unseen."""
    store = PostgresStore(store_url)
    try:
        assert await claim(store, named=False) == []
        assert await claim(store, named=True) == []
        assert named_statements == [1]
    finally:
        await store.close()
