"""Jobs inserted by multi-row INSERTs (`sqlite/multirow.py`): how a batch is cut into
statements, and that the rows stored are those one INSERT a row stores, in every cut."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from jobs_core.store.protocol import NewJob
from jobs_core.store.sqlite import multirow
from jobs_core.store.sqlite.queue import queued_rows
from jobs_core.store.sqlite.store import SqliteStore

NOW = 1_764_000_000_000


@pytest.mark.parametrize(
    ("n", "top", "expected"),
    [
        (0, 128, []),
        (1, 128, [1]),
        (100, 128, [64, 32, 4]),
        (127, 128, [64, 32, 16, 8, 4, 2, 1]),
        (128, 128, [128]),
        (300, 128, [128, 128, 32, 8, 4]),
        (100, 29, [29, 29, 29, 8, 4, 1]),
        (3, 1, [1, 1, 1]),
    ],
)
def test_sizes_cut_a_batch_into_top_rows_then_powers_of_two(
    n: int, top: int, expected: list[int]
) -> None:
    assert multirow.sizes(n, top) == expected


@pytest.mark.parametrize(("width", "limit", "top"), [(10, 32766, 128), (34, 999, 29), (10, 5, 1)])
def test_a_statement_binds_no_more_parameters_than_sqlite_allows(
    width: int, limit: int, top: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(multirow, "variable_limit", lambda: limit)
    assert multirow.top_rows(width) == top


def job(i: int) -> NewJob:
    """Job `i`, with a different set of options every few jobs (wide rows, NULLs between)."""
    return NewJob(
        command=f"c{i % 3}", request_type="dict", request_body=f'{{"i":{i}}}', worker="",
        run_after=NOW + i, retry_limit=i % 4, timeout_secs=60.0 + i, queue=f"q{i % 5}",
        priority=i % 4, concurrency_key=f"user:{i % 7}" if i % 3 == 0 else None,
        tag="t" if i % 11 == 0 else None, meta={"m": str(i)} if i % 13 == 0 else {},
        expires_at=NOW + 10_000 if i % 17 == 0 else None,
    )  # fmt: skip


def stored(path: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path / "jobs.db")) as conn:
        return conn.execute("SELECT * FROM background_job ORDER BY id").fetchall()


async def insert(path: Path, n: int, multi: bool) -> None:
    store = SqliteStore(str(path))
    columns, rows = queued_rows([job(i) for i in range(n)], [NOW] * n)
    rows = [(i + 1, *row[1:]) for i, row in enumerate(rows)]

    def run(conn: sqlite3.Connection) -> None:
        if multi:
            multirow.insert(conn, columns, rows)
        else:
            conn.executemany(multirow.insert_sql(columns, 1), rows)

    try:
        store._in_transaction(run)
    finally:
        await store.close()


@pytest.mark.parametrize("n", [1, 2, 29, 30, 129, 300])
@pytest.mark.parametrize("limit", [32766, 999])
async def test_multirow_inserts_store_the_rows_one_insert_a_row_stores(
    tmp_path: Path, n: int, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(multirow, "variable_limit", lambda: limit)
    await insert(tmp_path / "multi", n, multi=True)
    await insert(tmp_path / "single", n, multi=False)
    rows = stored(tmp_path / "multi")
    assert len(rows) == n
    assert rows == stored(tmp_path / "single")


def test_number_sets_each_rows_id_across_statements() -> None:
    built = multirow.statements(("id", "x"), [(0, "a"), (0, "b"), (0, "c")])
    multirow.number(built, 2, 41)
    assert [params for _, params, _ in built] == [[41, "a", 42, "b"], [43, "c"]]


def test_values_every_row_shares_are_bound_once() -> None:
    built = multirow.statements(("id", "x", "y"), [(0, "a", "s"), (0, "b", "s"), (0, "c", "s")])
    assert [(sql.split("VALUES ")[1], shared) for sql, _, shared in built] == [
        ("(?2, ?3, ?1), (?4, ?5, ?1)", 1),  # the ids (all 0 before numbering) never shared
        ("(?, ?, ?)", 0),
    ]
    multirow.number(built, 3, 41)
    assert [params for _, params, _ in built] == [["s", 41, "a", 42, "b"], [43, "c", "s"]]
    (alike,) = multirow.statements(("id", "x"), [(0, "a"), (0, "a")])
    assert (alike[0].split("VALUES ")[1], alike[1:]) == ("(?2, ?1), (?3, ?1)", (["a", 0, 0], 1))
