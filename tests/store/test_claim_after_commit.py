"""A plain claim on SQLite makes its jobs once its transaction has committed
(`claims.PlainClaim`): the Python that builds them does not hold the write lock another
process waits for. A claim that meets a job setting more columns reads them in the
transaction, as before."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from jobs_core.records import Job, JobState
from jobs_core.store.protocol import NewJob, Transition
from jobs_core.store.sqlite import rows
from jobs_core.store.sqlite.store import SqliteStore

NOW = 1_764_000_000_000
OWNER = "probe"


def new_job(**options: Any) -> NewJob:
    return NewJob(
        command="step", request_type="dict", request_body='{"n": 1}', worker="",
        run_after=NOW, retry_limit=2, timeout_secs=60.0, **options,
    )  # fmt: skip


def watch_builds(monkeypatch: pytest.MonkeyPatch, store: SqliteStore) -> list[bool]:
    """Whether the store's connection was in a transaction at each plain job's build."""
    seen: list[bool] = []
    build = rows.build_one

    def watched(row: Sequence[Any]) -> Job:
        seen.append(store._conn.in_transaction)
        return build(row)

    monkeypatch.setattr(rows, "build_one", watched)
    return seen


async def test_a_plain_claim_makes_its_jobs_after_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(str(tmp_path))
    try:
        ids = await store.enqueue([new_job() for _ in range(5)], NOW)
        seen = watch_builds(monkeypatch, store)
        claimed = await store.claim(owner=OWNER, commands=["step"], named=False, limit=3, now=NOW)
        assert [j.id for j in claimed] == ids[:3]
        assert all(j.state is JobState.STARTED and j.owner == OWNER for j in claimed)
        assert seen == [False] * 3
        done = [
            Transition(job_id=j.id, state=JobState.COMPLETED, owner_guard=OWNER,
                       duration_ms=1, response_type="NoneType", response_body="null",
                       progress=1.0)
            for j in claimed
        ]  # fmt: skip
        result, more = await store.finish_and_claim(
            done, [], NOW, owner=OWNER, commands=["step"], limit=10
        )
        assert result.applied == ids[:3]
        assert [j.id for j in more] == ids[3:]
        assert getattr(more, "exhausted", False)
        assert seen == [False] * 5
    finally:
        await store.close()


async def test_a_job_with_more_columns_is_read_in_the_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(str(tmp_path))
    try:
        plain, tagged = await store.enqueue([new_job(), new_job(tag="t")], NOW)
        seen = watch_builds(monkeypatch, store)
        claimed = await store.claim(owner=OWNER, commands=["step"], named=False, limit=10, now=NOW)
        assert [(j.id, j.tag) for j in claimed] == [(plain, None), (tagged, "t")]
        assert seen == [True]  # the plain one, beside the tagged one's full row
    finally:
        await store.close()
