"""One run of `enqueue_steps.py` in the tree on PYTHONPATH: prints a JSON object of µs.

Usage: python bench/_enqueue_steps_run.py N. Uses only what every revision since group
commit has (the facade's `_builder`, the SQLite store's `_insert_group_now`,
`_in_transaction`, `group_insert.insert_group`, `queue.insert_jobs`), so it measures older
trees as they are.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Any

from jobs_core import BackgroundJobs, EnqueueRequest
from jobs_core.store.group_commit import Pending
from jobs_core.store.sqlite import queue
from jobs_core.store.sqlite.group_insert import insert_group
from jobs_core.store.sqlite.store import SqliteStore

BATCH = 1000
PASSES = 3
NOW_COLUMNS = "id, command, request_type, request_body, state, worker, run_after, created_date"
FLOOR_INSERT = (
    f"INSERT INTO background_job ({NOW_COLUMNS}, retry_limit, timeout_secs) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
FLOOR_SUMMARY = (
    "INSERT INTO job_summary (id, command, state, request_type, created_date) "
    "VALUES (?, 'noop', 'queued', 'dict', ?)"
)


def _clock_cost() -> float:
    """ns `thread_time_ns` adds to an interval it measures (it is a system call)."""
    clock = time.thread_time_ns
    least = float("inf")
    for _ in range(5):
        total = 0
        for _ in range(20_000):
            start = clock()
            total += clock() - start
        least = min(least, total / 20_000)
    return least


class Timed:
    """A connection whose `execute` and `executemany` add their CPU time (this thread's,
    less the clock's own cost) to `spent`, by the statement's first words."""

    def __init__(self, conn: sqlite3.Connection, clock_cost: float) -> None:
        self.conn = conn
        self.clock_cost = clock_cost
        self.spent: defaultdict[str, float] = defaultdict(float)

    def _timed(self, method: Any, sql: str, *args: Any) -> Any:
        start = time.thread_time_ns()
        result = method(sql, *args)
        self.spent[_label(sql)] += time.thread_time_ns() - start - self.clock_cost
        return result

    def execute(self, sql: str, *args: Any) -> Any:
        return self._timed(self.conn.execute, sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._timed(self.conn.executemany, sql, *args)


def _label(sql: str) -> str:
    words = sql.split()
    if words[0] == "INSERT":
        return f"INSERT INTO {words[2]}" + (" … SELECT" if " SELECT " in sql else "")
    if words[0] == "SELECT":
        return "SELECT next id"
    return " ".join(words[:2])


def cpu_least(fn: Callable[[int], None], n: int) -> float:
    best = float("inf")
    for _ in range(PASSES):
        start = time.process_time()
        fn(n)
        best = min(best, time.process_time() - start)
    return best / n * 1e6


async def acpu_least(fn: Callable[[int], Awaitable[None]], n: int) -> float:
    best = float("inf")
    for _ in range(PASSES):
        start = time.process_time()
        await fn(n)
        best = min(best, time.process_time() - start)
    return best / n * 1e6


async def single(jobs: BackgroundJobs, n: int) -> dict[str, float]:
    """CPU µs of one awaited enqueue, layer by layer (each layer called on its own)."""
    store: Any = jobs.store
    now = jobs.clock.now_ms()
    job = (await jobs._builder.build([EnqueueRequest(command="noop", request={"i": 1})], now))[0]
    r: dict[str, float] = {}

    async def public(k: int) -> None:
        for i in range(k):
            await jobs.enqueue("noop", {"i": i})

    async def store_enqueue(k: int) -> None:
        for _ in range(k):
            await store.enqueue([job], now)

    def group_now(k: int) -> None:
        for _ in range(k):
            store._insert_group_now([Pending([job], now)])

    def transaction(k: int) -> None:
        for _ in range(k):
            store._in_transaction(partial(insert_group, group=[Pending([job], now)]))

    r["public enqueue"] = await acpu_least(public, n)
    r["store.enqueue"] = await acpu_least(store_enqueue, n)
    r["_insert_group_now"] = cpu_least(group_now, n)
    r["_in_transaction"] = cpu_least(transaction, n)
    r.update(statements(store._conn, lambda conn: queue.insert_jobs(conn, [job], now), n))
    return r


def statements(
    conn: sqlite3.Connection, insert: Callable[[Any], Any], n: int, per: int = 1
) -> dict[str, float]:
    """CPU µs of each statement of `insert` inside BEGIN IMMEDIATE … COMMIT, per job."""
    best: dict[str, float] = {}
    clock_cost = _clock_cost()
    for _ in range(PASSES):
        timed = Timed(conn, clock_cost)
        for _ in range(n):
            timed.execute("BEGIN IMMEDIATE")
            insert(timed)
            timed.execute("COMMIT")
        for label, ns in timed.spent.items():
            key = f"stmt {label}"
            best[key] = min(best.get(key, float("inf")), ns / (n * per) / 1000)
    return best


def _floor(conn: sqlite3.Connection, size: int, summary: bool, ids: Iterator[int], k: int) -> None:
    """BEGIN IMMEDIATE, `size` rows of our shape (one bound, or executemany), their
    summaries (bound for one, copied for many) if `summary`, COMMIT: no library code, ids
    from `ids` (a store of their own)."""
    now = 1_764_000_000_000
    for _ in range(k):
        conn.execute("BEGIN IMMEDIATE")
        rows = [
            (next(ids), "noop", "dict", f'{{"i":{i}}}', "queued", "", now, now, 2, 600.0)
            for i in range(size)
        ]
        if size == 1:
            conn.execute(FLOOR_INSERT, rows[0])
            if summary:
                conn.execute(FLOOR_SUMMARY, (rows[0][0], now))
        else:
            conn.executemany(FLOOR_INSERT, rows)
            if summary:
                conn.execute(queue.COPY_SUMMARIES, (rows[0][0], rows[-1][0]))
        conn.execute("COMMIT")


async def many(jobs: BackgroundJobs, n: int) -> dict[str, float]:
    """CPU µs per job of `enqueue_many` in batches of BATCH, layer by layer."""
    store: Any = jobs.store
    now = jobs.clock.now_ms()
    requests = [EnqueueRequest(command="noop", request={"i": i}) for i in range(BATCH)]
    new_jobs = await jobs._builder.build(requests, now)
    batches = max(1, n // BATCH)
    r: dict[str, float] = {}

    async def public(k: int) -> None:
        for b in range(k):
            await jobs.enqueue_many(
                [EnqueueRequest(command="noop", request={"i": i + b}) for i in range(BATCH)]
            )

    async def make(k: int) -> None:
        for b in range(k):
            [EnqueueRequest(command="noop", request={"i": i + b}) for i in range(BATCH)]

    async def build(k: int) -> None:
        for _ in range(k):
            await jobs._builder.build(requests, now)

    async def store_enqueue(k: int) -> None:
        for _ in range(k):
            await store.enqueue(new_jobs, now)

    for name, fn in (
        ("public enqueue_many", public), ("EnqueueRequests", make), ("builder.build", build),
        ("store.enqueue", store_enqueue),
    ):  # fmt: skip
        r[name] = await acpu_least(fn, batches) / BATCH
    conn = store._conn
    r.update(statements(conn, lambda c: queue.insert_jobs(c, new_jobs, now), batches, BATCH))
    return r


def floors(conn: sqlite3.Connection, n: int) -> dict[str, float]:
    """CPU µs per job of our rows stored with no library code (in a store of their own: the
    rows without a summary would take ids the library hands out)."""
    batches = max(1, 10 * n // BATCH)
    ids = itertools.count(1)
    return {
        "one row, no summary": cpu_least(partial(_floor, conn, 1, False, ids), n),
        "one row and its summary": cpu_least(partial(_floor, conn, 1, True, ids), n),
        "executemany, no summary": cpu_least(partial(_floor, conn, BATCH, False, ids), batches)
        / BATCH,
        "executemany + summaries": cpu_least(partial(_floor, conn, BATCH, True, ids), batches)
        / BATCH,
    }


async def main(n: int) -> None:
    directory = tempfile.mkdtemp(prefix="jobs-enqueue-steps-")
    jobs = BackgroundJobs(directory)
    jobs.telemetry = None

    @jobs.command
    async def noop(req: dict[str, Any]) -> None:
        return None

    await jobs.enqueue("noop", {"i": -1})  # open files, warm the statement cache
    result = {"single": await single(jobs, n), "many": await many(jobs, 10 * n)}
    await jobs.close()
    floor_store = SqliteStore(directory + "-floor")
    result["floor"] = floors(floor_store._conn, n)
    await floor_store.close()
    for path in (directory, directory + "-floor"):
        shutil.rmtree(path, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
