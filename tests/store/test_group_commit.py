"""Group commit through the public API: concurrent enqueues share transactions, yet each
caller gets its own durable ids or its own error, and a cancelled caller's job is stored
at most once. Written against the facade so it can join the store contract suite; only
`commits` (counting transactions) looks at the SQLite connection."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from jobs_core import (
    BackgroundJobs,
    BatchCancelledError,
    DuplicateRefIdError,
    EnqueueRequest,
    JobNotFoundError,
    JobRef,
)
from tests.conftest import MakeJobs, wait_until


async def item(req: dict[str, Any]) -> None:
    return None


def facade(make_jobs: MakeJobs, **kwargs: Any) -> BackgroundJobs:
    jobs = make_jobs(start_engine=False, **kwargs)
    jobs.command(item)
    return jobs


@contextmanager
def commits(jobs: BackgroundJobs) -> Iterator[list[str]]:
    """The COMMITs the store's write connection runs inside the block (SQLite only)."""
    seen: list[str] = []
    conn = jobs.store._conn  # type: ignore[attr-defined]
    conn.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)
    try:
        yield seen
    finally:
        conn.set_trace_callback(None)


async def bodies(jobs: BackgroundJobs, ids: list[int]) -> list[str]:
    found = [await jobs.get_job(i) for i in ids]
    return [f.job.request_body for f in found if f is not None and f.job is not None]


@pytest.mark.parametrize("way", ["enqueue_many", "enqueue_each", "both"])
async def test_group_commit_100_concurrent_producers_get_distinct_durable_ids(
    make_jobs: MakeJobs, store_dir: str, way: str
) -> None:
    """Callers giving columns (`enqueue_each`; `enqueue_many` of one command and no
    option), or columns and records in turn (a tag makes records), share transactions."""
    jobs = facade(make_jobs)
    reader = facade(make_jobs, directory=store_dir)  # another connection, as another process

    async def producer(p: int) -> list[int]:
        ids: list[int] = []
        for k in range(3):
            requests = [{"p": p, "k": k, "n": n} for n in range(2)]
            if way == "enqueue_each" or (way == "both" and (p + k) % 2):
                refs: Sequence[JobRef] = await jobs.enqueue_each("item", requests)
            else:
                tag = "t" if way == "both" else None
                made = [EnqueueRequest(command="item", request=r, tag=tag) for r in requests]
                refs = await jobs.enqueue_many(made)
            ids += [ref.id for ref in refs]
            # Durable on return: another connection reads it at once.
            assert await bodies(reader, [refs[-1].id]) == [f'{{"p":{p},"k":{k},"n":1}}']
        return ids

    with commits(jobs) as seen:
        results = await asyncio.gather(*(producer(p) for p in range(100)))
    every = [i for ids in results for i in ids]
    assert len(set(every)) == 600
    assert all(ids == sorted(ids) for ids in results)  # each caller's ids in its order
    assert len(seen) < 100  # 300 enqueues shared transactions
    for p in (0, 57, 99):
        assert await bodies(reader, results[p]) == [
            f'{{"p":{p},"k":{k},"n":{n}}}' for k in range(3) for n in range(2)
        ]


async def test_group_commit_refused_callers_do_not_fail_the_others(make_jobs: MakeJobs) -> None:
    jobs = facade(make_jobs)
    taken = await jobs.enqueue("item", {"n": -1}, ref_id="taken")
    await jobs.cancel_batch("closed")
    options: dict[int, dict[str, Any]] = {
        3: {"ref_id": "taken"},
        7: {"batch_id": "closed"},
        11: {"depends_on": 10**9},
        12: {"ref_id": "new"},
        13: {"ref_id": "new"},  # the same group, after 12
        14: {"batch_id": "open"},
    }
    calls = [jobs.enqueue("item", {"n": n}, **options.get(n, {})) for n in range(20)]
    with commits(jobs) as seen:
        results = await asyncio.gather(*calls, return_exceptions=True)
    assert len(seen) == 1  # one transaction for all of them
    assert isinstance(results[3], DuplicateRefIdError)
    assert results[3].existing_id == taken.id
    assert isinstance(results[7], BatchCancelledError)
    assert isinstance(results[11], JobNotFoundError)
    assert isinstance(results[13], DuplicateRefIdError)
    assert results[13].existing_id == results[12].id  # type: ignore[union-attr]
    refused = {3, 7, 11, 13}
    stored = {n: r for n, r in enumerate(results) if n not in refused}
    assert all(not isinstance(r, BaseException) for r in stored.values())
    ids = [r.id for r in stored.values()]  # type: ignore[union-attr]
    assert await bodies(jobs, ids) == [f'{{"n":{n}}}' for n in stored]
    assert (await jobs.batch_status("open")).total == 1
    assert (await jobs.batch_status("closed")).total == 0
    assert await jobs.count_jobs() == 1 + len(stored)  # the refused left nothing behind
    assert (await jobs.get_job_by_ref("new")).summary.id == results[12].id  # type: ignore[union-attr]


async def test_group_commit_callers_find_jobs_already_there_each_for_itself(
    make_jobs: MakeJobs,
) -> None:
    """Unique keys and `return_existing` in one transaction: a key inserted by one caller
    is found by a later caller of the same group, and only that caller's ref says so."""
    jobs = facade(make_jobs)
    taken = await jobs.enqueue("item", {"n": -1}, ref_id="taken")
    options: dict[int, dict[str, Any]] = {
        2: {"unique_key": "k"},
        5: {"unique_key": "k"},  # the same group, after 2
        6: {"ref_id": "taken", "on_conflict": "return_existing"},
    }
    calls = [jobs.enqueue("item", {"n": n}, **options.get(n, {})) for n in range(10)]
    with commits(jobs) as seen:
        refs = await asyncio.gather(*calls)
    assert len(seen) == 1
    assert refs[5].id == refs[2].id
    assert refs[6].id == taken.id
    assert [n for n, ref in enumerate(refs) if ref.existing] == [5, 6]
    assert len({ref.id for ref in refs}) == 9
    assert await jobs.count_jobs() == 1 + 8


async def test_group_commit_cancelled_callers_are_stored_once_or_not_at_all(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    """Cancelled while waiting to be taken: not stored. Cancelled once taken by a transaction
    (held up by another process's lock): stored once, when that transaction commits."""
    jobs = facade(make_jobs)
    await jobs.enqueue("item", {"n": -1})  # the store exists before another process locks it
    calls = [asyncio.ensure_future(jobs.enqueue("item", {"n": n}, tag=f"r{n}")) for n in range(10)]
    await asyncio.sleep(0)  # all entered; the first gathers the others
    for n in (0, 4):
        calls[n].cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    assert [await _count(jobs, f"r{n}") for n in range(10)] == [0, 1, 1, 1, 0, 1, 1, 1, 1, 1]

    lock = sqlite3.connect(f"{store_dir}/jobs.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another process writing: the group must wait
    held = [asyncio.ensure_future(jobs.enqueue("item", {"n": n}, tag=f"h{n}")) for n in range(5)]
    committer = jobs.store._committer  # type: ignore[attr-defined]
    await wait_until(
        lambda: committer._flush_task is not None and not committer._pending,
        what="the group taken by a transaction that waits for the lock",
    )
    held[2].cancel()
    await wait_until(held[2].done, what="the cancel delivered while the lock is held")
    lock.execute("COMMIT")
    lock.close()
    results = await asyncio.gather(*held, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    assert [await _count(jobs, f"h{n}") for n in range(5)] == [1, 1, 1, 1, 1]


async def _count(jobs: BackgroundJobs, tag: str) -> int:
    """Jobs with `tag` (tags are not unique: a job stored twice would count 2)."""
    return await jobs.count_jobs(f"tag:{tag}")
