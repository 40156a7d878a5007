"""A claim on SQLite returns a plain job's columns only, less those the claimer knows
(`rows.ONE_SELECT`; the flow-controlled rounds `rows.FLOW_SELECT`), and reads the full row
of any job that sets more: whatever a job holds, the claimed `Job` is the one its full row
makes, whichever way it was claimed."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from jobs_core.records import Job, JobState
from jobs_core.store.protocol import NewJob, QueueChange
from jobs_core.store.sqlite import flow_claim
from jobs_core.store.sqlite.rows import (
    CLAIMED_FIELDS,
    FLOW_SELECT,
    JOB_SELECT,
    flow_claimed_jobs,
    row_to_job,
)
from jobs_core.store.sqlite.schema import JOB_FIELDS
from jobs_core.store.sqlite.store import SqliteStore

NOW = 1_764_000_000_000
OWNER = "probe"

FANCY: dict[str, Any] = {
    "tag": "t", "args": {"a": "1"}, "meta": {"m": "2"}, "created_by": "me", "user_id": "u",
    "reply_to": "https://example.invalid/r", "callback": "step", "ref_id": "r-1",
    "expires_at": NOW + 60_000, "unique_key": "k-1",
}  # fmt: skip
"""Options that set columns a plain job leaves NULL (none that routes the claim elsewhere:
a concurrency key or a limited queue take the flow-controlled claim)."""

EARLIER_ATTEMPT = """
UPDATE background_job SET logs_truncated = 1, logs = 'x', duration_ms = 5, progress = 0.5,
    error = '{"code": "E", "message": "m", "stack": "", "field_errors": {}}',
    status = 's', last_outcome = 'failed', attempts = 1
WHERE id = ?
"""
"""What an attempt that failed leaves on a job queued again for its retry."""


def new_job(**options: Any) -> NewJob:
    return NewJob(
        command="step", request_type="dict", request_body='{"n": 1}', worker="",
        run_after=NOW, retry_limit=2, timeout_secs=60.0, **options,
    )  # fmt: skip


async def seed(path: Path, keys: tuple[str | None, ...] = (None,) * 3, **flow: Any) -> list[int]:
    """A plain job, one with every option above, and a plain one retried after a failed
    attempt (its ids in that order), each with the options `flow` and its key in `keys`."""
    store = SqliteStore(str(path))
    try:
        options = [{}, FANCY, {}]
        jobs = [new_job(**o, **flow, concurrency_key=k) for o, k in zip(options, keys, strict=True)]
        ids = list(await store.enqueue(jobs, NOW))
    finally:
        await store.close()
    with sqlite3.connect(path / "jobs.db") as conn:
        conn.execute(EARLIER_ATTEMPT, (ids[2],))
    conn.close()
    return ids


def full_job(conn: sqlite3.Connection, job_id: int) -> Job:
    sql = f"SELECT {JOB_SELECT} FROM background_job WHERE id = ?"
    return row_to_job(conn.execute(sql, (job_id,)).fetchone())


async def test_a_claimed_job_is_the_job_of_its_full_row(tmp_path: Path) -> None:
    ids = await seed(tmp_path)
    store = SqliteStore(str(tmp_path))
    try:
        claimed = await store.claim(
            owner=OWNER, commands=["step"], named=False, limit=10, now=NOW + 1
        )
    finally:
        await store.close()
    assert [j.id for j in claimed] == ids
    conn = sqlite3.connect(tmp_path / "jobs.db")
    try:
        for job in claimed:
            assert job.state is JobState.STARTED and job.owner == OWNER
            assert job == full_job(conn, job.id)
    finally:
        conn.close()
    fancy, retried = claimed[1], claimed[2]
    assert (fancy.tag, fancy.args, fancy.meta) == ("t", {"a": "1"}, {"m": "2"})
    assert (fancy.unique_key, fancy.expires_at) == ("k-1", NOW + 60_000)
    assert retried.logs_truncated is True and retried.error is not None
    assert (retried.attempts, retried.progress, retried.status) == (2, 0.5, "s")


def made(conn: sqlite3.Connection, job_id: int) -> Job | None:
    """The job a flow-controlled round makes from `job_id`'s `FLOW_SELECT` row alone (None:
    it reads the full row)."""
    row = conn.execute(f"SELECT {FLOW_SELECT} FROM background_job WHERE id = ?", (job_id,))
    rows = row.fetchall()
    if rows[0][-1]:
        return None
    (job,) = flow_claimed_jobs(conn, rows, ("", OWNER, NOW + 1, NOW + 1))
    return job


@pytest.mark.parametrize("direct", [True, False], ids=["direct round", "decided round"])
async def test_a_flow_claimed_job_is_the_job_of_its_full_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct: bool
) -> None:
    # Two jobs of one key in a round: the direct round gives way to a decided one.
    keys = ("user:1", None, "user:2") if direct else ("user:1", "user:1", None)
    ids = await seed(tmp_path, keys, queue="mail", priority=1, concurrency_limit=3)
    rounds: list[tuple[str, bool]] = []
    for name in ("direct_round", "_decided_round"):
        original = getattr(flow_claim, name)

        def spy(*args: Any, _f: Any = original, _n: str = name) -> Any:
            result = _f(*args)
            rounds.append((_n, result is not None))
            return result

        monkeypatch.setattr(flow_claim, name, spy)
    store = SqliteStore(str(tmp_path))
    try:  # a limited queue takes the flow-controlled claim
        await store.set_queue("mail", QueueChange(concurrency=5), NOW)
        claimed = await store.claim(
            owner=OWNER, commands=["step"], named=False, limit=10, now=NOW + 1
        )
    finally:
        await store.close()
    first = (
        [("direct_round", True)] if direct else [("direct_round", False), ("_decided_round", True)]
    )
    assert rounds[: len(first)] == first
    assert sorted(j.id for j in claimed) == ids
    conn = sqlite3.connect(tmp_path / "jobs.db")
    try:
        for job in claimed:
            assert job.state is JobState.STARTED and job.owner == OWNER
            assert (job.worker, job.started_date, job.last_activity_date) == ("", NOW + 1, NOW + 1)
            assert job == full_job(conn, job.id)
    finally:
        conn.close()


async def test_only_a_plain_job_is_made_from_the_claimed_columns(tmp_path: Path) -> None:
    plain, fancy, retried = await seed(tmp_path)
    conn = sqlite3.connect(tmp_path / "jobs.db")
    try:
        jobs = {i: made(conn, i) for i in (plain, fancy, retried)}
        full = full_job(conn, plain)
    finally:
        conn.close()
    assert jobs[fancy] is None and jobs[retried] is None
    # Read before any claim, the plain job's row differs from its full row in what the
    # claim sets only.
    assert full.state is JobState.QUEUED
    assert jobs[plain] == replace(
        full, state=JobState.STARTED, owner=OWNER, started_date=NOW + 1,
        last_activity_date=NOW + 1,
    )  # fmt: skip


async def test_any_other_column_set_sends_the_claim_to_the_full_row(tmp_path: Path) -> None:
    (plain, *_) = await seed(tmp_path)
    others = [n for n in JOB_FIELDS if n not in CLAIMED_FIELDS and n != "state"]
    assert "logs_truncated" in others and "error" in others
    conn = sqlite3.connect(tmp_path / "jobs.db", isolation_level=None)
    try:
        for name in others:
            conn.execute("BEGIN")
            conn.execute(f"UPDATE background_job SET {name} = 1 WHERE id = ?", (plain,))
            assert made(conn, plain) is None, name
            conn.execute("ROLLBACK")
        assert made(conn, plain) is not None
    finally:
        conn.close()
