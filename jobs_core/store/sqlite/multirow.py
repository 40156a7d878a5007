"""Many jobs inserted by multi-row `INSERT … VALUES (…), (…), …` statements.

`executemany` binds and steps its statement once per row through the sqlite3 module's
per-row machinery: 3.5 µs a job of the default queue's rows (10 columns, batches of 1,000)
against 1.6 µs for the same rows bound into statements of 100 rows each (measured,
bench/README.md "The enqueue path, eighth pass"). It is time under the write lock, which an
engine in another process waits for. A batch is cut into statements of `top` rows and the
rest into powers of two, so a column set compiles at most 8 statement sizes (the
connection's statement cache keeps them).

A value every row of a statement shares (the command, the state, a batch's created date,
queue or priority when they do not vary) is bound once, as a numbered parameter each row
names (`?3`): each value bound costs ~0.12 µs a row inside the write lock (measured: 500
rows of the 10 base columns 1.25 µs a job, with 4 more 1.73), so a batch of the default
queue binds 2 values a row (id and request) instead of 10 (bench/README.md, "Flow control
on SQLite: the mixed producer, ninth pass").
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from itertools import chain
from operator import itemgetter
from typing import Any

MAX_ROWS = 128
"""Most rows a statement binds (100 and 300 measured alike)."""

Statements = list[tuple[str, list[Any], int]]
"""INSERTs, their parameters and how many of them the rows share: the shared values first,
then each row's own, one row after another, its id (the first column) first."""


@functools.lru_cache(maxsize=512)
def insert_sql(columns: tuple[str, ...], rows: int, shared: tuple[bool, ...] = ()) -> str:
    """The INSERT of `rows` rows of `columns` into `background_job`; `shared[i]`: column `i`
    is one value all rows share (bound once, before the rows' own)."""
    if not any(shared):
        row = "(" + ", ".join("?" for _ in columns) + ")"
        values = ", ".join([row] * rows)
    else:
        first = sum(shared) + 1
        width = len(columns) - first + 1
        slots = []
        at = own = 0
        for is_shared in shared:  # each column: its shared slot, or its place in a row
            at += is_shared
            slots.append((True, at) if is_shared else (False, own))
            own += not is_shared
        values = ", ".join(
            "(" + ", ".join(f"?{n if one else first + r * width + n}" for one, n in slots) + ")"
            for r in range(rows)
        )
    return f"INSERT INTO background_job ({', '.join(columns)}) VALUES {values}"


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
    """The INSERTs of `rows` (values in `columns` order, the id first) and their parameters,
    the values all rows share bound once a statement (SQLite converts a value to its
    column's type, so values equal in Python are stored alike)."""
    top = top_rows(len(columns))
    n = len(rows)
    shared: tuple[bool, ...] = ()
    if n > 1:
        by_column = zip(*rows, strict=True)
        next(by_column)  # the ids: never shared (all 0 in rows built before they are known)
        shared = (False, *(column.count(column[0]) == n for column in by_column))
    if not any(shared):
        return _statements(columns, rows, top, lambda chunk: chain.from_iterable(chunk), 0, ())
    values = [rows[0][i] for i, one in enumerate(shared) if one]
    own = [i for i, one in enumerate(shared) if not one]
    get = itemgetter(*own) if len(own) > 1 else lambda row: (row[0],)  # the id alone
    flat = lambda chunk: chain(values, chain.from_iterable(map(get, chunk)))  # noqa: E731
    return _statements(columns, rows, top, flat, len(values), shared)


def _statements(
    columns: tuple[str, ...], rows: Sequence[Sequence[Any]], top: int,
    flat: Callable[[Sequence[Sequence[Any]]], Iterable[Any]], k: int, shared: tuple[bool, ...],
) -> Statements:  # fmt: skip
    out: Statements = []
    start = 0
    for size in sizes(len(rows), top):
        chunk = rows[start : start + size]
        if size == 1:  # one row: nothing to share
            out.append((insert_sql(columns, 1), list(chunk[0]), 0))
        else:
            out.append((insert_sql(columns, size, shared), list(flat(chunk)), k))
        start += size
    return out


def number(built: Statements, width: int, first: int) -> None:
    """Set the ids (each row's first value of its own) of `built`'s rows (of `width`
    columns) to `first`, `first + 1`, …"""
    for _, params, shared in built:
        stride = width - shared
        k = (len(params) - shared) // stride
        params[shared::stride] = range(first, first + k)
        first += k


def execute(conn: sqlite3.Connection, built: Statements) -> None:
    """Run `built`'s INSERTs inside the caller's transaction."""
    for sql, params, _ in built:
        conn.execute(sql, params)


def insert(
    conn: sqlite3.Connection, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert `rows` (ids set, values in `columns` order) inside the caller's transaction."""
    if len(rows) == 1:  # a lone job with options: no list to flatten
        conn.execute(insert_sql(columns, 1), rows[0])
    else:
        execute(conn, statements(columns, rows))
