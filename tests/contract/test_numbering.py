"""A batch enqueue numbers its jobs by priority, highest first (`store/numbering.py`), on
both stores: the ids come back in the caller's order, jobs of one priority keep their order
(first in, first out), a later batch's ids stay larger, and the jobs one claim takes sit
together (consecutive ids: rows placed one after another)."""

from __future__ import annotations

import json

from jobs_core.settings import Settings
from jobs_core.store.opening import open_store
from jobs_core.store.protocol import NewJob, Store

NOW = 1_764_000_000_000


def new(i: int, priority: int = 0, queue: str = "default", command: str = "c") -> NewJob:
    return NewJob(command=command, request_type="dict", request_body=json.dumps({"i": i}),
                  worker="", run_after=NOW, retry_limit=0, timeout_secs=60.0,
                  priority=priority, queue=queue)  # fmt: skip


async def opened(store_dir: str) -> Store:
    store = open_store(store_dir, Settings())
    await store.open()
    return store


async def test_ids_come_back_in_the_callers_order_numbered_by_priority(store_dir: str) -> None:
    store = await opened(store_dir)
    try:
        priorities = [0, 3, 0, 1, 3, 0]
        ids = await store.enqueue([new(i, p) for i, p in enumerate(priorities)], NOW)
        bodies = [await _request_i(store, job_id) for job_id in ids]
        later = await store.enqueue([new(9, 5), new(10, 0)], NOW)
    finally:
        await store.close()
    assert bodies == list(range(6))  # each id is its own request's job
    first = min(ids)
    offsets = [job_id - first for job_id in ids]
    assert offsets == [3, 0, 4, 2, 1, 5]  # 3s first, then 1, then 0s, equals in list order
    assert min(later) > max(ids)


async def _request_i(store: Store, job_id: int) -> int:
    found = await store.get_job(job_id)
    assert found is not None and found.job is not None
    i: int = json.loads(found.job.request_body)["i"]
    return i


async def test_a_batch_of_one_priority_keeps_its_order(store_dir: str) -> None:
    """Queues and commands do not reorder a batch: only priorities do."""
    store = await opened(store_dir)
    try:
        ids = await store.enqueue(
            [new(0, 2, "b", "x"), new(1, 2, "a", "y"), new(2, 2, "b", "x")], NOW
        )
    finally:
        await store.close()
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]


async def test_the_jobs_one_claim_takes_sit_together(store_dir: str) -> None:
    """100 jobs of priorities 0-3 in list order (as `throughput.py`'s mixed workload makes
    them): a claim of 25 takes the 25 of priority 3, now the batch's first 25 ids; in list
    order they were 4 ids apart, one row in four of every page."""
    store = await opened(store_dir)
    try:
        ids = await store.enqueue([new(i, (i * 7) % 4) for i in range(100)], NOW)
        jobs = await store.claim(owner="o", commands=["c"], named=False, limit=25, now=NOW)
    finally:
        await store.close()
    assert {j.priority for j in jobs} == {3}
    assert [j.id for j in jobs] == list(range(min(ids), min(ids) + 25))
    assert [json.loads(j.request_body)["i"] for j in jobs] == list(range(1, 100, 4))
