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
PASSES = 5
LOCK_WAIT_SECS = 30.0
"""How long `begin` and `retried` try again while the lock is held before they give up (a
checkpoint holds it for milliseconds; longer means another process is stuck)."""
BEGIN: tuple[str, ...] = ("BEGIN IMMEDIATE",)
"""How the store begins a write transaction (`begin_like`): on a tree with the inbox
attached, BEGIN then `inbox.TAKE_LOCK` (BEGIN IMMEDIATE would take the inbox's write lock
too)."""


def begin_like(store: Any) -> tuple[str, ...]:
    if getattr(store, "_inbox", None) is None:
        return ("BEGIN IMMEDIATE",)
    from jobs_core.store.sqlite.inbox import TAKE_LOCK

    return ("BEGIN", TAKE_LOCK)


def begin(conn: Any) -> None:
    """BEGIN as the store does, retried while the lock is held: the store's checkpointer
    thread takes `jobs.db`'s write lock for a moment now and then (the store's own writes
    poll then, `SqliteStore._spin`)."""
    raw = getattr(conn, "conn", conn)  # a `Timed`'s connection

    def attempt() -> None:
        try:
            for statement in BEGIN:
                conn.execute(statement)
        except sqlite3.OperationalError:
            if raw.in_transaction:  # BEGIN went through, the lock did not
                raw.execute("ROLLBACK")
            raise

    retried(attempt)


def retried(fn: Callable[[], Any]) -> None:
    """`fn` (a whole write transaction, or `begin`'s) called again while the lock is held,
    for up to `LOCK_WAIT_SECS`."""
    deadline = time.monotonic() + LOCK_WAIT_SECS
    while True:
        try:
            fn()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise


NOW_COLUMNS = "id, command, request_type, request_body, state, worker, run_after, created_date"
FLOOR_INSERT = (
    f"INSERT INTO background_job ({NOW_COLUMNS}, retry_limit, timeout_secs) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
FLOOR_SUMMARY = (
    "INSERT INTO job_summary (id, command, state, request_type, created_date) "
    "VALUES (?, 'noop', 'queued', 'dict', ?)"
)
FLOOR_COPY_SUMMARIES = """
INSERT INTO job_summary (id, command, state, worker, parent_id, depends_on, ref_id, tag,
    batch_id, created_by, user_id, callback, request_type, created_date, completed_date,
    error_code, error_message)
SELECT id, command, state, worker, parent_id, depends_on, ref_id, tag, batch_id, created_by,
    user_id, callback, request_type, created_date, completed_date,
    json_extract(error, '$.code'), json_extract(error, '$.message')
FROM background_job WHERE id BETWEEN ? AND ?
"""
"""The summaries of a batch as jobs.db v7 copied them at enqueue (v8 writes a job's summary
when it is archived): the floors compare rows with and without them."""


class Timed:
    """A connection whose `execute` and `executemany` add their time to `spent`, by the
    statement's first words (only their shares are used: the clock's cost falls on all)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.spent: defaultdict[str, int] = defaultdict(int)

    def _timed(self, method: Any, sql: str, *args: Any) -> Any:
        start = time.thread_time_ns()
        result = method(sql, *args)
        self.spent[_label(sql)] += time.thread_time_ns() - start
        return result

    def execute(self, sql: str, *args: Any) -> Any:
        return self._timed(self.conn.execute, sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._timed(self.conn.executemany, sql, *args)


class NoSql:
    """A connection that runs nothing: what the insert costs in Python alone (for plain
    jobs, whose insert reads back only a next id or a rowid)."""

    lastrowid = 1

    def execute(self, sql: str, *args: Any) -> NoSql:
        return self

    def executemany(self, sql: str, rows: Any) -> NoSql:
        return self

    def fetchone(self) -> tuple[int]:
        return (1,)


def _label(sql: str) -> str:
    words = sql.split()
    if words[0] == "INSERT":
        return f"INSERT INTO {words[2]}" + (" … SELECT" if " SELECT " in sql else "")
    if words[0] == "SELECT":
        return "SELECT next id"
    return " ".join(words[:2])


Layer = Callable[[int], Awaitable[None] | None]
"""A layer called `k` times: a function, or a coroutine function."""


async def least_cpu(layers: dict[str, Layer], n: int, per: int = 1) -> dict[str, float]:
    """CPU µs of this thread per call of each layer (per job: `per` jobs a call), the least
    of PASSES passes; the layers take turns in each pass, so drift and the WAL's growth fall
    on all of them. This thread only: the WAL checkpointer's thread is not counted."""
    best = dict.fromkeys(layers, float("inf"))
    for _ in range(PASSES):
        for name, layer in layers.items():
            start = time.thread_time()
            pending = layer(n)
            if pending is not None:
                await pending
            best[name] = min(best[name], time.thread_time() - start)
    return {name: secs / (n * per) * 1e6 for name, secs in best.items()}


TO_JOBS_DB = {"worker": "enqueue_steps"}
"""On a tree with the inbox (`jobs.inbox`, the thirteenth pass on), a plain job's enqueue is
an append to the inbox, and only `_in_transaction` would write `jobs.db`: the layers would
measure two paths. This option sends every layer's job to `jobs.db` with nothing looked up
(`queue.inbox_route`), so the steps stay differences of one path. A named worker: the
inbox carries `created_by`, which this tool set before, since the seventeenth pass."""


async def single(jobs: BackgroundJobs, n: int) -> dict[str, float]:
    """CPU µs of one awaited enqueue, layer by layer (each layer called on its own); on a
    tree with the inbox, of a job that goes to `jobs.db` (`TO_JOBS_DB`), and a plain job's
    public enqueue (the inbox's append) beside them."""
    store: Any = jobs.store
    now = jobs.clock.now_ms()
    options: dict[str, Any] = TO_JOBS_DB if getattr(store, "_inbox", None) is not None else {}
    request = EnqueueRequest(command="noop", request={"i": 1}, **options)
    job = (await jobs._builder.build([request], now))[0]

    async def public(k: int) -> None:
        for i in range(k):
            await jobs.enqueue("noop", {"i": i}, **options)

    async def public_plain(k: int) -> None:
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
            retried(
                partial(store._in_transaction, partial(insert_group, group=[Pending([job], now)]))
            )

    layers = {"public enqueue": public, "store.enqueue": store_enqueue,
              "_insert_group_now": group_now, "_in_transaction": transaction}  # fmt: skip
    if options:
        layers["public enqueue, plain (inbox)"] = public_plain
    r = await least_cpu(layers, n)
    r.update(await statements(store._conn, lambda c: queue.insert_jobs(c, [job], now), n))
    return r


async def statements(
    conn: sqlite3.Connection, insert: Callable[[Any], Any], n: int, per: int = 1
) -> dict[str, float]:
    """CPU µs per job of `insert` in Python alone ("insert's Python", on a connection that
    runs nothing), and of each of its statements inside the store's BEGIN … COMMIT: the CPU
    time of the real transactions less that Python, split in the shares each statement's
    time took through a timing proxy (the proxy's own cost is left out that way)."""

    def real(k: int) -> None:
        for _ in range(k):
            begin(conn)
            insert(conn)
            conn.execute("COMMIT")

    def python(k: int) -> None:
        fake = NoSql()
        for _ in range(k):
            insert(fake)

    cost = await least_cpu({"real": real, "python": python}, n, per)
    timed = Timed(conn)
    for _ in range(n):
        begin(timed)
        insert(timed)
        timed.execute("COMMIT")
    total = sum(timed.spent.values())
    sql = cost["real"] - cost["python"]
    shares = {f"stmt {label}": sql * ns / total for label, ns in timed.spent.items()}
    return {"insert's Python": cost["python"], **shares}


FLOOR_MULTI_ROWS = 100
FLOOR_MULTI = FLOOR_INSERT.replace(
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * FLOOR_MULTI_ROWS),
)
"""The floor's rows bound 100 a statement (multi-row VALUES) instead of by `executemany`."""


def _floor(
    conn: sqlite3.Connection, size: int, summary: bool, ids: Iterator[int], k: int,
    multi: bool = False,
) -> None:  # fmt: skip
    """BEGIN IMMEDIATE, `size` rows of our shape (one bound, or executemany, or `multi`:
    statements of FLOOR_MULTI_ROWS rows), their summaries (bound for one, copied for many)
    if `summary`, COMMIT: no library code, ids from `ids` (a store of their own)."""
    now = 1_764_000_000_000
    for _ in range(k):
        begin(conn)
        rows = [
            (next(ids), "noop", "dict", f'{{"i":{i}}}', "queued", "", now, now, 2, 600.0)
            for i in range(size)
        ]
        if size == 1:
            conn.execute(FLOOR_INSERT, rows[0])
            if summary:
                conn.execute(FLOOR_SUMMARY, (rows[0][0], now))
        elif multi:
            for start in range(0, size, FLOOR_MULTI_ROWS):
                chunk = rows[start : start + FLOOR_MULTI_ROWS]
                conn.execute(FLOOR_MULTI, list(itertools.chain.from_iterable(chunk)))
        else:
            conn.executemany(FLOOR_INSERT, rows)
            if summary:
                conn.execute(FLOOR_COPY_SUMMARIES, (rows[0][0], rows[-1][0]))
        conn.execute("COMMIT")


async def many(jobs: BackgroundJobs, n: int) -> dict[str, float]:
    """CPU µs per job of `enqueue_many` in batches of BATCH, layer by layer."""
    store: Any = jobs.store
    now = jobs.clock.now_ms()
    requests = [EnqueueRequest(command="noop", request={"i": i}) for i in range(BATCH)]
    new_jobs = await jobs._builder.build(requests, now)
    batches = max(1, n // BATCH)

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

    r = await least_cpu(
        {"public enqueue_many": public, "EnqueueRequests": make, "builder.build": build,
         "store.enqueue": store_enqueue}, batches, BATCH,
    )  # fmt: skip
    conn = store._conn
    try:  # a tree with columns: the path `enqueue_many` takes for these requests
        from jobs_core.columns import plain_columns
        from jobs_core.store.sqlite.prebuilt import insert_prebuilt, prebuild_columns
    except ImportError:
        r.update(
            await statements(conn, lambda c: queue.insert_jobs(c, new_jobs, now), batches, BATCH)
        )
        return r
    columns = plain_columns(jobs._builder, requests, now)
    assert columns is not None
    built = prebuild_columns(columns, now)
    assert built is not None

    async def store_columns(k: int) -> None:
        for _ in range(k):
            await store.enqueue_columns(columns, now)

    r.update(await least_cpu(
        {"plain_columns": lambda k: _repeat(k, plain_columns, jobs._builder, requests, now),
         "prebuild_columns": lambda k: _repeat(k, prebuild_columns, columns, now),
         "store.enqueue_columns": store_columns}, batches, BATCH,
    ))  # fmt: skip
    r.update(await statements(conn, lambda c: insert_prebuilt(c, built), batches, BATCH))
    return r


def _repeat(k: int, fn: Callable[..., Any], *args: Any) -> None:
    for _ in range(k):
        fn(*args)


async def each(jobs: BackgroundJobs, handle: Any, n: int) -> dict[str, float]:
    """CPU µs per job of `enqueue_each` of BATCH requests (one command, no option), layer
    by layer; {} on a tree without it."""
    try:
        from jobs_core.columns import build_columns
    except ImportError:
        return {}
    store: Any = jobs.store
    now = jobs.clock.now_ms()
    plain = [{"i": i} for i in range(BATCH)]
    columns = await build_columns(jobs._builder, "noop", plain, {}, now)
    batches = max(1, n // BATCH)

    async def public(k: int) -> None:
        for b in range(k):
            await jobs.enqueue_each("noop", [{"i": i + b} for i in range(BATCH)])

    async def by_handle(k: int) -> None:
        for b in range(k):
            await handle.enqueue_many([{"i": i + b} for i in range(BATCH)])

    def make(k: int) -> None:
        for b in range(k):
            [{"i": i + b} for i in range(BATCH)]

    async def build(k: int) -> None:
        for _ in range(k):
            await build_columns(jobs._builder, "noop", plain, {}, now)

    async def store_columns(k: int) -> None:
        for _ in range(k):
            await store.enqueue_columns(columns, now)

    return await least_cpu(
        {"public enqueue_each": public, "handle enqueue_many": by_handle, "requests": make,
         "build_columns": build, "store.enqueue_columns": store_columns}, batches, BATCH,
    )  # fmt: skip


async def floors(conn: sqlite3.Connection, n: int) -> dict[str, float]:
    """CPU µs per job of our rows stored with no library code (in a store of their own: the
    rows without a summary would take ids the library hands out)."""
    batches = max(1, 10 * n // BATCH)
    ids = itertools.count(1)
    one = await least_cpu(
        {"one row, no summary": partial(_floor, conn, 1, False, ids),
         "one row and its summary": partial(_floor, conn, 1, True, ids)}, n,
    )  # fmt: skip
    many = await least_cpu(
        {"executemany, no summary": partial(_floor, conn, BATCH, False, ids),
         "executemany + summaries": partial(_floor, conn, BATCH, True, ids),
         "multi-row VALUES of 100, no summary": partial(_floor, conn, BATCH, False, ids,
                                                        multi=True)}, batches, BATCH,
    )  # fmt: skip
    return {**one, **many}


async def main(n: int) -> None:
    directory = tempfile.mkdtemp(prefix="jobs-enqueue-steps-")
    jobs = BackgroundJobs(directory)
    jobs.telemetry = None

    @jobs.command
    async def noop(req: dict[str, Any]) -> None:
        return None

    await jobs.enqueue("noop", {"i": -1})  # open files, warm the statement cache
    global BEGIN
    BEGIN = begin_like(jobs.store)
    result = {"single": await single(jobs, n), "many": await many(jobs, 10 * n),
              "each": await each(jobs, noop, 10 * n)}  # fmt: skip
    await jobs.close()
    floor_store = SqliteStore(directory + "-floor")
    result["floor"] = await floors(floor_store._conn, n)
    await floor_store.close()
    for path in (directory, directory + "-floor"):
        shutil.rmtree(path, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
