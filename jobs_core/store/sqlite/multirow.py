"""Many jobs inserted by multi-row `INSERT … VALUES (…), (…), …` statements.

`executemany` binds and steps its statement once per row through the sqlite3 module's
per-row machinery: 3.5 µs a job of the default queue's rows (10 columns, batches of 1,000)
against 1.6 µs for the same rows bound into statements of 100 rows each (measured,
bench/README.md "The enqueue path, eighth pass"). It is time under the write lock, which an
engine in another process waits for. A batch is cut into statements of `top` rows and the
rest into powers of two, so a column set compiles at most 8 statement sizes (the
connection's statement cache keeps them).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from itertools import chain
from typing import Any

MAX_ROWS = 128
"""Most rows a statement binds (100 and 300 measured alike)."""

Statements = list[tuple[str, list[Any]]]
"""INSERTs and their parameters, flat (a row's values one after another)."""


@functools.lru_cache(maxsize=512)
def insert_sql(columns: tuple[str, ...], rows: int) -> str:
    """The INSERT of `rows` rows of `columns` into `background_job`."""
    row = "(" + ", ".join("?" for _ in columns) + ")"
    return f"INSERT INTO background_job ({', '.join(columns)}) VALUES {', '.join([row] * rows)}"


def sizes(n: int, top: int) -> list[int]:
    """Rows per statement for `n` rows: `top` while that many are left, then the rest in
    powers of two, largest first."""
    out = [top] * (n // top)
    rest = n % top
    bit = 1 << max(rest.bit_length() - 1, 0)
    while rest:
        if rest & bit:
            out.append(bit)
            rest -= bit
        bit >>= 1
    return out


@functools.cache
def variable_limit() -> int:
    """The most parameters a statement may bind in this process's SQLite library (999
    before 3.32, 32,766 since by default; builds may set another)."""
    with closing(sqlite3.connect(":memory:")) as conn:
        return conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


def top_rows(width: int) -> int:
    """Rows a statement binds at most, for rows of `width` values."""
    return max(1, min(MAX_ROWS, variable_limit() // width))


def statements(columns: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> Statements:
    """The INSERTs of `rows` (values in `columns` order) and their flat parameters."""
    top = top_rows(len(columns))
    out: Statements = []
    start = 0
    for k in sizes(len(rows), top):
        out.append((insert_sql(columns, k), list(chain.from_iterable(rows[start : start + k]))))
        start += k
    return out


def number(built: Statements, width: int, first: int) -> None:
    """Set the ids (each row's first value) of `built`'s rows to `first`, `first + 1`, …"""
    for _, params in built:
        k = len(params) // width
        params[0::width] = range(first, first + k)
        first += k


def execute(conn: sqlite3.Connection, built: Statements) -> None:
    """Run `built`'s INSERTs inside the caller's transaction."""
    for sql, params in built:
        conn.execute(sql, params)


def insert(
    conn: sqlite3.Connection, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert `rows` (ids set, values in `columns` order) inside the caller's transaction."""
    if len(rows) == 1:  # a lone job with options: no list to flatten
        conn.execute(insert_sql(columns, 1), rows[0])
    else:
        execute(conn, statements(columns, rows))
