"""A default claim sends no statement while nothing can have made a job ready or due since a
plain claim came back short (`default_idle.py`), and `next_due` then answers from that
claim: an engine claims again whenever a job ends, and one job at a time that was an empty
claim and a `next_due` a job (bench/README.md, issue 9's ninth pass). A skipped claim must
never strand a ready job: a job due at its `run_after`, a retry's backoff, a dependent
another process releases, a job another process requeues, a job it enqueues, a rule it
sets; each makes the next claim look again, and finds the job."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import pytest

from jobs_core import JobState
from jobs_core.records import AttemptOutcome
from jobs_core.store.postgres import PostgresStore, flow_claims, listener
from jobs_core.store.protocol import NewJob, Transition
from tests.conftest import wait_until
from tests.postgres.test_named_claim_skip import listening
from tests.postgres.test_plain_claim import cli

NOW = 1_764_000_000_000


def new(i: int, *, run_after: int = NOW, depends_on: int | None = None) -> NewJob:
    return NewJob(command="c", request_type="dict", request_body=json.dumps({"i": i}),
                  worker="", run_after=run_after, retry_limit=0, timeout_secs=60.0,
                  dependencies=[depends_on] if depends_on else [])  # fmt: skip


def ended(job_id: int, state: JobState = JobState.COMPLETED, **more: Any) -> Transition:
    outcome = AttemptOutcome.COMPLETED if state is JobState.COMPLETED else AttemptOutcome.FAILED
    return Transition(job_id=job_id, state=state, owner_guard="e1", response_body="null",
                      outcome=outcome, **more)  # fmt: skip


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """One entry per default claim statement (`claim`) and `next_due` statement sent to the
    server. The listener's probe, which moves the token once a second when anything
    committed (our own writes too), is held off: a test's claims would otherwise look again
    whenever it fell between them."""
    monkeypatch.setattr(listener, "PROBE_SECS", 300.0)
    statements: list[str] = []
    claim, next_due = flow_claims.claim, flow_claims.next_due

    async def spy_claim(conn: Any, **kwargs: Any) -> flow_claims.ClaimRound:
        if not kwargs["named"]:
            statements.append("claim")
        return await claim(conn, **kwargs)

    async def spy_next_due(conn: Any, now: int) -> int | None:
        statements.append("next_due")
        return await next_due(conn, now)

    monkeypatch.setattr(flow_claims, "claim", spy_claim)
    monkeypatch.setattr(flow_claims, "next_due", spy_next_due)
    return statements


async def claim(store: PostgresStore, now: int = NOW) -> list[int]:
    jobs = await store.claim(owner="e1", commands=["c"], named=False, limit=10, now=now)
    return [j.id for j in jobs]


async def moved(store: PostgresStore, token: int) -> None:
    await wait_until(lambda: store.change_token() != token, what="the notification")


def wall_ms() -> int:
    """Now by the clock of the CLI's process (its jobs are due at it)."""
    return int(time.time() * 1000) + 1000


async def run_python(code: str, *args: str) -> None:
    """`code` in a process of its own (`sys.argv[1:]` = `args`)."""
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


async def test_no_statement_until_a_job_falls_due_then_it_is_claimed(
    store_url: str, sent: list[str]
) -> None:
    store = PostgresStore(store_url)
    try:
        await listening(store)
        [first] = await store.enqueue([new(0)], NOW)
        [later] = await store.enqueue([new(1, run_after=NOW + 5000)], NOW)
        assert await claim(store) == [first]
        assert sent == ["claim"]
        assert await claim(store, NOW + 10) == []
        assert await store.next_due(NOW + 10) == NOW + 5000
        assert await claim(store, NOW + 4999) == []
        assert sent == ["claim"]  # all answered from the short claim

        assert await claim(store, NOW + 5000) == [later]  # due: looked again
        assert sent == ["claim", "claim"]
        assert await store.next_due(NOW + 5000) is None  # no later job: said by the claim
        assert sent == ["claim", "claim"]
    finally:
        await store.close()


async def test_a_completed_outcome_leaves_the_skip_but_a_retry_or_own_enqueue_look_again(
    store_url: str, sent: list[str]
) -> None:
    """This engine's own outcome writes notify (they are not changes by others); one that
    makes a job ready again (a retry, due after its backoff) makes the next claim look."""
    store = PostgresStore(store_url)
    try:
        await listening(store)
        ids = await store.enqueue([new(0), new(1)], NOW)
        assert await claim(store) == ids
        await store.finish([ended(ids[0])], [], NOW)
        assert await claim(store) == []
        assert sent == ["claim"]

        retry = ended(ids[1], JobState.QUEUED, run_after=NOW + 3000)
        await store.finish([retry], [], NOW)
        assert await claim(store, NOW + 1) == []  # looked: the retry is not due yet
        assert sent == ["claim", "claim"]
        assert await store.next_due(NOW + 1) == NOW + 3000
        assert await claim(store, NOW + 3000) == [ids[1]]

        sent.clear()
        [third] = await store.enqueue([new(2)], NOW)  # this store's call: counted
        assert await claim(store, NOW + 3000) == [third]
        assert sent == ["claim"]
    finally:
        await store.close()


async def test_another_process_enqueue_requeue_and_rule_make_it_look_again(
    store_url: str, sent: list[str]
) -> None:
    store = PostgresStore(store_url)
    try:
        await listening(store)
        [failed] = await store.enqueue([new(0)], NOW)
        assert await claim(store) == [failed]
        await store.finish([ended(failed, JobState.FAILED)], [], NOW)
        assert await claim(store) == []
        assert sent == ["claim"]

        token = store.change_token()
        await cli("enqueue", store_url, "c", "{}")
        await moved(store, token)
        assert len(await claim(store, wall_ms())) == 1

        assert await claim(store, wall_ms()) == []
        token = store.change_token()
        await cli("requeue", store_url, str(failed))
        await moved(store, token)
        assert await claim(store, wall_ms()) == [failed]

        assert await claim(store, wall_ms()) == []
        sent.clear()
        token = store.change_token()
        await cli("queue", "pause", store_url, "default")
        await moved(store, token)
        await cli("enqueue", store_url, "c", "{}")
        assert await claim(store, wall_ms()) == []  # paused: the rule holds
        assert sent[:1] == ["claim"] and len(sent) >= 2  # looked, then under the lock
        assert await store.next_due(wall_ms()) is None
        assert "next_due" in sent  # a rule is in use: the server answers
    finally:
        await store.close()


RELEASE = """
import asyncio, sys
from jobs_core import JobState
from jobs_core.records import AttemptOutcome
from jobs_core.store.postgres import PostgresStore
from jobs_core.store.protocol import Transition

async def main() -> None:
    store = PostgresStore(sys.argv[1])
    done = Transition(job_id=int(sys.argv[2]), state=JobState.COMPLETED, owner_guard="e1",
                      response_body="null", outcome=AttemptOutcome.COMPLETED)
    try:
        result = await store.finish([done], [], int(sys.argv[3]))
        assert result.released_dependents, result
    finally:
        await store.close()

asyncio.run(main())
"""
"""Another process writes the outcome of a job this store claimed (as an engine that took
it over would), releasing its dependent."""


async def test_a_dependent_released_by_another_process_is_claimed(
    store_url: str, sent: list[str]
) -> None:
    store = PostgresStore(store_url)
    try:
        await listening(store)
        [parent] = await store.enqueue([new(0)], NOW)
        [child] = await store.enqueue([new(1, depends_on=parent)], NOW)
        assert await claim(store) == [parent]
        assert await claim(store) == []
        assert sent == ["claim"]

        token = store.change_token()
        await run_python(RELEASE, store_url, str(parent), str(NOW))
        await moved(store, token)
        assert await claim(store) == [child]
    finally:
        await store.close()


async def test_without_the_listener_every_default_claim_is_sent(
    store_url: str, sent: list[str]
) -> None:
    """Without a connected listener a change by another process could go unseen."""
    store = PostgresStore(store_url)
    try:
        assert await claim(store) == []
        assert await claim(store) == []
        assert await store.next_due(NOW) is None
        assert sent == ["claim", "claim", "next_due"]
    finally:
        await store.close()


async def test_a_claim_that_came_back_full_leaves_the_next_one_to_look(
    store_url: str, sent: list[str]
) -> None:
    """A full claim may have left due jobs behind: only a short one says none is left. The
    claim after a full one leaves the `due` probe out (it is likely full too), so the skip
    begins one claim later."""
    store = PostgresStore(store_url)
    try:
        await listening(store)
        ids = await store.enqueue([new(i) for i in range(3)], NOW)
        jobs = await store.claim(owner="e1", commands=["c"], named=False, limit=2, now=NOW)
        assert [j.id for j in jobs] == ids[:2]
        assert await claim(store) == ids[2:]
        assert await claim(store) == []
        assert await claim(store) == []
        assert sent == ["claim", "claim", "claim"]
    finally:
        await store.close()
