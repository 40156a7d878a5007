"""PostgreSQL stores jobs given as columns (`Store.enqueue_columns`) with one INSERT of the
template's values packed once and the requests as arrays (`queue.insert_columns`), making no
`NewJob` a job; jobs that read or write other rows first (a ref_id, a batch, a parent) go
the record way. What the rows hold is compared across the ways in
tests/contract/test_enqueue_columns.py."""

from __future__ import annotations

from typing import Any

import pytest

from jobs_core import BackgroundJobs, EnqueueRequest
from jobs_core.records import JobState
from jobs_core.store.protocol import JobColumns
from tests.conftest import MakeJobs


def count_records(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """`JobColumns.new_jobs` counted, so a test can tell which way a batch went."""
    calls: list[int] = []
    original = JobColumns.new_jobs

    def counted(self: JobColumns) -> Any:
        calls.append(len(self))
        return original(self)

    monkeypatch.setattr(JobColumns, "new_jobs", counted)
    return calls


@pytest.fixture
def jobs(make_jobs: MakeJobs) -> BackgroundJobs:
    """A facade on the test's store with a `noop` command."""
    jobs = make_jobs()

    @jobs.command
    async def noop(req: dict[str, int]) -> None: ...

    return jobs


async def test_plain_columns_make_no_record_a_job(
    jobs: BackgroundJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_records(monkeypatch)
    refs = await jobs.enqueue_each("noop", [{"i": i} for i in range(300)], queue="bulk")
    assert calls == []
    assert len(refs) == 300 and len(set(refs.ids)) == 300
    found = await jobs.get_job(refs.ids[-1])
    last = found.job if found is not None else None
    assert last is not None and last.request_body == '{"i":299}'
    assert last.queue == "bulk" and last.state is JobState.QUEUED
    assert (await jobs.counts())[JobState.QUEUED] == 300


async def test_jobs_with_a_ref_id_go_the_record_way(
    jobs: BackgroundJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_records(monkeypatch)
    refs = await jobs.enqueue_each("noop", [{"i": 1}], ref_id="only-one")
    assert calls == [1]
    assert refs[0].ref_id == "only-one"


async def test_routed_columns_make_no_record_a_job(
    jobs: BackgroundJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`enqueue_many` of requests that set only queues, priorities and keys (the mixed
    workload's) goes as columns with each job's routing, numbered by priority."""
    calls = count_records(monkeypatch)
    made = [
        EnqueueRequest(
            command="noop", request={"i": i}, queue=("mail", "media")[i % 2], priority=i % 3,
            concurrency_key=f"user:{i}" if i % 4 == 0 else None,
        )
        for i in range(12)
    ]  # fmt: skip
    refs = await jobs.enqueue_many(made)
    assert calls == []
    found = [await jobs.get_job(ref.id) for ref in refs]
    stored = [f.job for f in found if f is not None]
    assert [(j.queue, j.priority, j.concurrency_key) for j in stored] == [
        (r.queue, r.priority, r.concurrency_key) for r in made
    ]
    assert [j.concurrency_limit for j in stored] == [1] * 12
    by_id = sorted(stored, key=lambda j: j.id)
    assert [j.priority for j in by_id] == sorted((r.priority or 0 for r in made), reverse=True)
