"""An enqueue's rows built before the write lock (`sqlite/prebuilt.py`): which groups get
them, and that the rows they insert are those the in-transaction path inserts, column by
column, ids and their order by priority included."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from jobs_core.store.group_commit import Pending
from jobs_core.store.protocol import EnqueuedIds, NewJob
from jobs_core.store.sqlite import prebuilt
from jobs_core.store.sqlite.group_insert import insert_group
from jobs_core.store.sqlite.inbox import TAKE_LOCK
from jobs_core.store.sqlite.prebuilt import insert_prebuilt, prebuild
from jobs_core.store.sqlite.queue import queued_rows
from jobs_core.store.sqlite.store import SqliteStore

NOW = 1_764_000_000_000


def new(**options: Any) -> NewJob:
    return NewJob(command="c", request_type="dict", request_body="{}", worker="",
                  run_after=NOW, retry_limit=0, timeout_secs=60.0, **options)  # fmt: skip


MIXED = [
    new(queue=["mail", "billing", "default"][i % 3], priority=(i * 7) % 4,
        concurrency_key=f"user:{i % 4}" if i % 5 < 2 else None, tag="t" if i == 3 else None)
    for i in range(40)
]  # fmt: skip
"""A batch as the mixed workload makes them (queues, priorities, keys), one job tagged."""

ROUTED = [
    new(queue=["mail", "default"][i % 2], priority=i % 3,
        concurrency_key=f"user:{i % 4}" if i % 3 == 0 else None,
        concurrency_limit=3 if i % 4 == 0 else 1)
    for i in range(30)
]  # fmt: skip
"""The same with no other option: its rows bind queue, priority, key and limit only."""

ROUTED_ONE_LIMIT = [
    new(queue=["mail", "default"][i % 2], priority=i % 3,
        concurrency_key=f"user:{i % 4}" if i % 3 == 0 else None)
    for i in range(30)
]  # fmt: skip
"""The same with every key at the default limit: its rows bind no limit."""


@pytest.mark.parametrize(
    ("group", "built"),
    [
        pytest.param([[new()]], False, id="a lone plain job: one statement finds its id"),
        pytest.param([[new(queue="mail")]], False, id="a lone job: built in the transaction"),
        pytest.param([[new(), new()]], True, id="plain jobs"),
        pytest.param([MIXED], True, id="queues, priorities, keys"),
        pytest.param([[new()], [new()]], True, id="several callers"),
        pytest.param([[new(ref_id="r")]], False, id="a ref_id is looked up"),
        pytest.param([[new(unique_key="u")]], False, id="a unique key is looked up"),
        pytest.param([[new(batch_id="b")]], False, id="a batch may refuse"),
        pytest.param([[new(depends_on=1)]], False, id="a parent is read"),
        pytest.param([[new(dependencies=[1, 2])]], False, id="several parents are read"),
        pytest.param([[new()], [new(ref_id="r")]], False, id="one caller looks up"),
    ],
)
def test_which_groups_are_built_before_the_lock(group: list[list[NewJob]], built: bool) -> None:
    assert (prebuild([Pending(jobs, NOW) for jobs in group]) is not None) is built


@pytest.mark.parametrize(
    ("batch", "limit"), [(ROUTED, True), (ROUTED_ONE_LIMIT, False)], ids=["limits", "no limit"]
)
def test_a_routed_batch_binds_a_limit_only_when_one_is_not_the_default(
    batch: list[NewJob], limit: bool
) -> None:
    columns, rows = queued_rows(batch, [NOW] * len(batch))
    routed = ("queue", "priority", "concurrency_key")
    assert all(name in columns for name in routed)
    assert ("concurrency_limit" in columns) is limit
    assert {len(row) for row in rows} == {len(columns)}


async def test_callers_with_different_created_dates_keep_their_own(tmp_path: Path) -> None:
    """Callers of one group that straddle a millisecond are built before the lock too,
    each job created at its own caller's time, also when priorities reorder the ids."""
    group = [Pending([new(), new(priority=1)], NOW), Pending([new(priority=2)], NOW + 1)]
    built = prebuild(group)
    assert built is not None
    store = SqliteStore(str(tmp_path))
    try:
        outcomes = store._in_transaction(lambda conn: insert_prebuilt(conn, built))
    finally:
        await store.close()
    assert outcomes == [[3, 2], [1]]
    created = {row[0]: row[-1] for row in _created(tmp_path)}
    assert created == {1: NOW + 1, 2: NOW, 3: NOW}


def _created(path: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path / "jobs.db")) as conn:
        return conn.execute("SELECT id, created_date FROM background_job ORDER BY id").fetchall()


def rows(path: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path / "jobs.db")) as conn:
        return conn.execute("SELECT * FROM background_job ORDER BY id").fetchall()


async def inserted(path: Path, groups: Sequence[Sequence[list[NewJob]]], prebuilt: bool) -> Any:
    """The outcomes of inserting each group in its own transaction, one way or the other."""
    store = SqliteStore(str(path))
    outcomes = []
    try:
        for jobs in groups:
            group = [Pending(list(j), NOW) for j in jobs]
            built = prebuild(group)
            assert built is not None
            outcomes.append(
                store._in_transaction(
                    lambda conn, g=group, b=built: (
                        insert_prebuilt(conn, b) if prebuilt else insert_group(conn, g)
                    )
                )
            )
    finally:
        await store.close()
    return outcomes


async def test_prebuilt_rows_are_the_rows_built_in_the_transaction(tmp_path: Path) -> None:
    """Two stores take the same groups (a mixed batch, two callers of plain jobs, a batch
    setting only queues, priorities and keys beside a plain job, and one whose keys all
    have the default limit), one building rows before the lock, the other inside it: equal
    tables, equal ids."""
    groups = [
        [MIXED], [[new(), new()], [new(priority=2)]], [ROUTED, [new()]], [ROUTED_ONE_LIMIT],
    ]  # fmt: skip
    ahead = await inserted(tmp_path / "ahead", groups, prebuilt=True)
    inside = await inserted(tmp_path / "inside", groups, prebuilt=False)
    assert ahead == inside
    assert rows(tmp_path / "ahead") == rows(tmp_path / "inside")
    mixed_ids = ahead[0][0]
    assert isinstance(mixed_ids, EnqueuedIds)
    by_id = sorted(range(len(MIXED)), key=lambda i: mixed_ids[i])
    priorities = [MIXED[i].priority for i in by_id]
    assert priorities == sorted(priorities, reverse=True)  # numbered by priority
    # Each caller its own ids, the run numbered by priority across callers.
    assert [list(o) for o in ahead[1]] == [[42, 43], [41]]


async def test_an_enqueue_through_the_store_builds_its_rows_before_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mixed batch through `SqliteStore.enqueue`: its rows are built before the
    transaction takes the write lock; the transaction reads the next id and inserts them."""
    store = SqliteStore(str(tmp_path))
    seen: list[str] = []

    def built(jobs: list[NewJob], created: list[int]) -> Any:
        seen.append("rows built")
        return queued_rows(jobs, created)

    monkeypatch.setattr(prebuilt, "queued_rows", built)
    try:
        store._conn.set_trace_callback(seen.append)
        ids = await store.enqueue(MIXED, NOW)
    finally:
        store._conn.set_trace_callback(None)
        await store.close()
    # The write lock is taken by the statement after BEGIN (`inbox.TAKE_LOCK`).
    begin, commit = seen.index("BEGIN"), seen.index("COMMIT")
    assert seen[:begin] == ["rows built"]
    assert " ".join(seen[begin + 1].split()) == " ".join(TAKE_LOCK.split())
    assert {sql.split()[0] for sql in seen[begin + 2 : commit]} == {"SELECT", "INSERT"}
    assert sorted(ids) == list(range(1, len(MIXED) + 1))


async def test_prebuilt_rows_are_numbered_again_when_a_transaction_is_retried(
    tmp_path: Path,
) -> None:
    """A write retried after its transaction rolled back (the lock lost, a busy retry)
    numbers the same prebuilt rows again from the next id then: nothing of the first try
    is left in them or in the table."""
    store = SqliteStore(str(tmp_path))
    built = prebuild([Pending(list(MIXED), NOW)])
    assert built is not None

    def fails(conn: sqlite3.Connection) -> None:
        insert_prebuilt(conn, built)
        raise RuntimeError("rolled back")

    try:
        await store.enqueue([new(), new()], NOW)  # ids 1 and 2 taken first
        with pytest.raises(RuntimeError):
            store._in_transaction(fails)
        await store.enqueue([new()], NOW)  # id 3: the rolled-back ids are given again
        (ids,) = store._in_transaction(lambda conn: insert_prebuilt(conn, built))
    finally:
        await store.close()
    assert isinstance(ids, EnqueuedIds)
    assert sorted(ids) == list(range(4, 4 + len(MIXED)))
    assert [row[0] for row in rows(tmp_path)] == list(range(1, 4 + len(MIXED)))
