"""The default claim while no flow rule is in use is the plain statement (`claim_sql.
claim_plain`), which still probes for rules: a rule another process sets (`jobs queue set`,
`pause`) holds from the next claim, which gives way to the claim under the store's lock;
once no rule is left, claims go plain again. Also `next_due` in one statement."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest

from jobs_core.store.postgres import PostgresStore, flow_claims
from jobs_core.store.protocol import NewJob

NOW = 1_764_000_000_000


def new(i: int, *, key: str | None = None, run_after: int = NOW) -> NewJob:
    return NewJob(command="c", request_type="dict", request_body=json.dumps({"i": i}),
                  worker="", run_after=run_after, retry_limit=0, timeout_secs=60.0,
                  concurrency_key=key)  # fmt: skip


async def cli(*args: str) -> None:
    """`jobs ARGS` in a process of its own (another process of the store, as an operator's)."""
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "jobs_cli", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.fixture
def ways(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """How each default claim statement ran: `plain` or `locked`."""
    seen: list[str] = []
    real = flow_claims.claim

    async def spy(conn: Any, **kwargs: Any) -> flow_claims.ClaimRound:
        if not kwargs["named"]:
            seen.append("locked" if kwargs["locked"] or kwargs.get("lock") else "plain")
        return await real(conn, **kwargs)

    monkeypatch.setattr(flow_claims, "claim", spy)
    return seen


async def claim(store: PostgresStore, limit: int, owner: str = "e1") -> int:
    jobs = await store.claim(owner=owner, commands=["c"], named=False, limit=limit, now=NOW)
    return len(jobs)


async def test_a_rule_set_by_another_process_holds_from_the_next_claim_then_claims_go_plain(
    store_url: str, ways: list[str]
) -> None:
    store = PostgresStore(store_url)
    try:
        await store.enqueue([new(i) for i in range(20)], NOW)
        assert await claim(store, 2) == 2
        assert ways == ["plain"]

        await cli("queue", "set", "--concurrency", "3", store_url, "default")
        ways.clear()
        assert await claim(store, 10) == 1  # 2 running: room for 1
        assert ways == ["plain", "locked"]  # the plain statement found the rule
        ways.clear()
        assert await claim(store, 10) == 0
        assert ways == ["locked"]  # flow mode: straight to the lock

        await cli("queue", "set", "--concurrency", "none", store_url, "default")
        await cli("queue", "pause", store_url, "default")
        assert await claim(store, 10) == 0  # paused: nothing, though 3 run and no limit
        await cli("queue", "resume", store_url, "default")
        ways.clear()
        assert await claim(store, 4) == 4  # the lock's claim finds no rule left...
        assert await claim(store, 4) == 4
        assert ways == ["locked", "plain"]  # ... and the next claim is plain again
    finally:
        await store.close()


async def test_a_plain_claim_never_starts_a_keyed_job_beyond_its_key(
    store_url: str, ways: list[str]
) -> None:
    """A ready job with a concurrency key is a rule too: the plain statement claims nothing
    and the locked claim holds the key (another store enqueues them, as another process)."""
    store, other = PostgresStore(store_url), PostgresStore(store_url)
    try:
        await store.enqueue([new(0)], NOW)
        assert await claim(store, 10) == 1
        assert ways == ["plain"]
        await other.enqueue([new(i, key="user:1") for i in range(5)], NOW)
        ways.clear()
        assert await claim(store, 10) == 1  # the key's limit is 1
        assert ways[0] == "plain" and "locked" in ways
        assert await claim(other, 10, owner="e2") == 0
    finally:
        await store.close()
        await other.close()


async def test_next_due_is_the_earliest_run_after_or_rate_window_end_in_one_statement(
    store_url: str,
) -> None:
    store = PostgresStore(store_url)
    try:
        assert await store.next_due(NOW) is None
        await store.enqueue([new(0, run_after=NOW + 5_000), new(1, run_after=NOW + 3_000)], NOW)
        assert await store.next_due(NOW) == NOW + 3_000
        await cli("queue", "set", "--rate-limit", "1/10s", store_url, "default")
        await store.enqueue([new(2)], NOW)
        assert await claim(store, 10) == 1  # the window's one start
        await store.enqueue([new(3)], NOW)
        # The window holds job 3 back until NOW + 10 s; job 1 is due before that.
        assert await store.next_due(NOW + 1) == NOW + 3_000
        assert await store.next_due(NOW + 4_000) == NOW + 5_000
        assert await store.next_due(NOW + 6_000) == NOW + 10_000
    finally:
        await store.close()
